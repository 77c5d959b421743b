// Shared harness for the interop suite: starts the real authorization server (as.mjs) and the
// authsec-protected notes example server on loopback, and runs `authsec diagnose --json`.
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..');
const BIN_DIR = process.env.AUTHSEC_BIN_DIR ?? path.join(ROOT, 'target', 'debug');
export const NOTES_BIN = path.join(BIN_DIR, 'notes-server');
export const AUTHSEC_BIN = path.join(BIN_DIR, 'authsec');

export const TOOL_SCOPES = JSON.stringify({
  list_notes: ['notes:read'],
  add_note: ['notes:write'],
  delete_note: ['notes:admin'],
  server_time: [],
  whoami: [],
});

export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts the OpenID Provider; resolves once it printed its issuer. */
export async function startAuthServer() {
  const proc = spawn(process.execPath, [path.join(here, 'as.mjs'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr.resume();
  const lines = createInterface({ input: proc.stdout });
  const [first] = await once(lines, 'line');
  const { issuer } = JSON.parse(first);
  const control = async (p) => {
    const r = await fetch(`${issuer}/__control/${p}`, { method: 'POST' });
    if (r.status !== 204) throw new Error(`control ${p}: ${r.status}`);
  };
  const token = async ({ client = 'agent', secret = `${client}-secret`, resource, scope } = {}) => {
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (resource) body.set('resource', resource);
    if (scope) body.set('scope', scope);
    const r = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}` },
      body,
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`token: ${r.status} ${JSON.stringify(json)}`);
    return json.access_token;
  };
  const revoke = async (tok) => {
    const r = await fetch(`${issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('agent:agent-secret').toString('base64')}` },
      body: new URLSearchParams({ token: tok, token_type_hint: 'access_token' }),
    });
    if (!r.ok) throw new Error(`revoke: ${r.status}`);
  };
  return { issuer, proc, control, token, revoke, stop: () => stop(proc) };
}

/** Starts the notes example server protected by authsec, configured through AUTHSEC_* env. */
export async function startNotesServer(issuer, extraEnv = {}, args = []) {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const env = {
    ...process.env,
    AUTHSEC_ISSUER: issuer,
    AUTHSEC_RESOURCE_URI: resource,
    AUTHSEC_TOOL_SCOPES_JSON: TOOL_SCOPES,
    AUTHSEC_SUPPORTED_SCOPES: 'notes:read notes:write notes:admin',
    AUTHSEC_LOG: 'warn',
    ...extraEnv,
  };
  const proc = spawn(NOTES_BIN, ['--listen', `127.0.0.1:${port}`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.stdout.resume();
  const prm = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`notes-server exited: ${stderr}`);
    try {
      const r = await fetch(prm);
      if (r.ok) return { resource, port, proc, env, stop: () => stop(proc), stderr: () => stderr };
    } catch { /* not yet listening */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  stop(proc);
  throw new Error(`notes-server did not start: ${stderr}`);
}

/**
 * A recorded log's exchanges from index `from` on, without the client's standalone `GET` stream on
 * the server's resource: the client opens it in the background after `initialize`, so its entry can
 * land anywhere in the log.
 */
export function exchangesSince(log, from, server) {
  return log.slice(from).filter((e) => !(e.method === 'GET' && e.url === server.resource));
}

export function stop(proc) {
  if (proc.exitCode === null) proc.kill('SIGTERM');
}

/** `authsec diagnose --json` with the server's AUTHSEC_* environment. */
export function diagnose(token, env, args = []) {
  return new Promise((resolve, reject) => {
    const child = execFile(AUTHSEC_BIN, ['diagnose', '--json', ...args, '-'], { env }, (err, stdout, stderr) => {
      if (err && err.code !== 1) return reject(new Error(`diagnose exited ${err.code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(new Error(`diagnose output not JSON: ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(token);
  });
}

/** A JSON-RPC POST to the MCP endpoint with a bearer token. */
export async function rpc(url, token, message, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify(message),
  });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: r.status, headers: r.headers, body };
}

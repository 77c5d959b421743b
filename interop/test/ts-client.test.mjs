// The official TypeScript MCP client against the authsec-protected notes server, with tokens from
// a real OpenID Provider: 401 → resource metadata → AS metadata → token with `resource` →
// initialize, filtered tools/list, allowed call; forbidden tool → 403 → step-up → success.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { startAuthServer, startNotesServer } from '../lib.mjs';

let as;
let notes;

before(async () => {
  as = await startAuthServer();
  // The least a client needs to connect: read access. Writing needs a step-up.
  notes = await startNotesServer(as.issuer, { AUTHSEC_BASE_SCOPES: 'notes:read' });
});

after(() => {
  notes?.stop();
  as?.stop();
});

/** Records every exchange the client makes, for assertions on the real wire traffic. */
function recordingFetch(log) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    const body = init.body instanceof URLSearchParams ? init.body.toString() : (typeof init.body === 'string' ? init.body : '');
    log.push({ url: String(url), method: init.method ?? 'GET', status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body });
    return res;
  };
}

test('ts client: 401 discovery, token with resource, initialize, filtered tools/list, allowed call, 403 step-up', async () => {
  const log = [];
  const provider = new ClientCredentialsProvider({ clientId: 'agent', clientSecret: 'agent-secret', expectedIssuer: as.issuer });
  const transport = new StreamableHTTPClientTransport(new URL(notes.resource), { authProvider: provider, fetch: recordingFetch(log) });
  const client = new Client({ name: 'authsec-interop', version: '1.0.0' });
  await client.connect(transport);

  // The first request was refused with a challenge naming the metadata and the base scope.
  const first = log.find((e) => e.url === notes.resource);
  assert.equal(first.status, 401);
  assert.equal(
    first.wwwAuthenticate,
    `Bearer resource_metadata="http://127.0.0.1:${notes.port}/.well-known/oauth-protected-resource/mcp", scope="notes:read"`,
  );
  assert.ok(log.some((e) => e.url.endsWith('/.well-known/oauth-protected-resource/mcp') && e.status === 200));
  const tokenRequest = log.find((e) => e.url === `${as.issuer}/token`);
  assert.ok(tokenRequest, 'the client requested a token');
  const form = new URLSearchParams(tokenRequest.body);
  assert.equal(form.get('resource'), notes.resource, 'RFC 8707 resource sent');
  assert.equal(form.get('scope'), 'notes:read');

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['list_notes', 'server_time', 'whoami']);

  const listed = await client.callTool({ name: 'list_notes', arguments: {} });
  assert.notEqual(listed.isError, true);

  const before403 = log.length;
  const added = await client.callTool({ name: 'add_note', arguments: { text: 'from the TypeScript client' } });
  assert.notEqual(added.isError, true, JSON.stringify(added));
  const stepUp = log.slice(before403);
  const denied = stepUp.find((e) => e.status === 403);
  assert.ok(denied, 'add_note was first refused with 403');
  assert.match(denied.wwwAuthenticate, /^Bearer error="insufficient_scope", error_description="[^"]+", scope="notes:write notes:read", resource_metadata="/);
  const reauth = stepUp.find((e) => e.url === `${as.issuer}/token`);
  assert.equal(new URLSearchParams(reauth.body).get('scope'), 'notes:write notes:read');
  const retried = stepUp.filter((e) => e.url === notes.resource).at(-1);
  assert.equal(retried.status, 200);

  const who = await client.callTool({ name: 'whoami', arguments: {} });
  assert.match(JSON.stringify(who.content), /agent/);
  await client.close();
});

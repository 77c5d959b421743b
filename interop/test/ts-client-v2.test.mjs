// The official TypeScript MCP client 2.x (`@modelcontextprotocol/client`, which negotiates
// 2025-11-25) against the authsec-protected notes server, with tokens from a real OpenID
// Provider and the SDK's stock ClientCredentialsProvider: 401 → resource metadata → AS
// metadata → token with `resource` → initialize, filtered tools/list marked private, allowed
// call; forbidden tool → 403 → step-up → success.
//
// Unlike 1.x (see ts-client.test.mjs) the 2.x transport requests the challenged scope, and on a
// 403 it asks for the union of what it requested before, what was granted and what the
// challenge names (SEP-2350). The second test shows that it keeps the earlier scopes even when a
// challenge names only the operation's scope, as authsec's challenges to 2026-07-28 requests do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport, ClientCredentialsProvider } from '@modelcontextprotocol/client';
import { exchangesSince, startAuthServer, startNotesServer } from '../lib.mjs';

let as;
let notes; // the default challenge scope (by protocol revision: the union for 2025-11-25)
let operationOnly; // AUTHSEC_CHALLENGE_SCOPE=required: a 403 names only the operation's scopes

before(async () => {
  as = await startAuthServer();
  notes = await startNotesServer(as.issuer, { AUTHSEC_BASE_SCOPES: 'notes:read' });
  operationOnly = await startNotesServer(as.issuer, { AUTHSEC_BASE_SCOPES: 'notes:read', AUTHSEC_CHALLENGE_SCOPE: 'required' });
});

after(() => {
  notes?.stop();
  operationOnly?.stop();
  as?.stop();
});

/** `scope` and `aud` of the JWT access token in a token response (payload decoded, not verified). */
function issued(json) {
  const claims = JSON.parse(Buffer.from(json.access_token.split('.')[1], 'base64url').toString());
  return { scope: claims.scope, aud: claims.aud };
}

/** JSON-RPC messages of a response body (JSON, or the data of each SSE event). */
function messages(text, contentType) {
  if (!contentType?.startsWith('text/event-stream')) return text ? [JSON.parse(text)] : [];
  return text.replace(/\r\n/g, '\n').split('\n\n')
    .map((event) => event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n'))
    .filter((data) => data.trim())
    .map((data) => JSON.parse(data));
}

/** Records every exchange the client makes; POST responses are read whole (from a clone). */
function recordingFetch(log) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    const headers = new Headers(init.headers);
    const body = init.body instanceof URLSearchParams ? init.body.toString() : (typeof init.body === 'string' ? init.body : '');
    const entry = {
      url: String(url),
      method: init.method ?? 'GET',
      status: res.status,
      wwwAuthenticate: res.headers.get('www-authenticate'),
      protocolVersion: headers.get('mcp-protocol-version'),
      body,
    };
    log.push(entry);
    if (entry.method === 'POST') {
      const text = await res.clone().text();
      if (entry.url.endsWith('/token')) {
        entry.form = Object.fromEntries(new URLSearchParams(body));
        if (res.ok) entry.issued = issued(JSON.parse(text));
      } else {
        entry.request = body ? JSON.parse(body) : undefined;
        entry.messages = messages(text, res.headers.get('content-type'));
      }
    }
    return res;
  };
}

async function connect(server, log) {
  const provider = new ClientCredentialsProvider({ clientId: 'agent', clientSecret: 'agent-secret', expectedIssuer: as.issuer });
  const transport = new StreamableHTTPClientTransport(new URL(server.resource), { authProvider: provider, fetch: recordingFetch(log) });
  const client = new Client({ name: 'authsec-interop', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

const prmUrl = (server) => `http://127.0.0.1:${server.port}/.well-known/oauth-protected-resource/mcp`;
const rpcMethod = (e) => e.request?.method;

test('ts client 2.x: 401 discovery, token with resource, initialize 2025-11-25, filtered private tools/list, allowed call, 403 step-up with the union', async () => {
  const log = [];
  const { client, transport } = await connect(notes, log);
  assert.equal(transport.protocolVersion, '2025-11-25');

  const first = log.find((e) => e.url === notes.resource);
  assert.equal(rpcMethod(first), 'initialize');
  assert.equal(first.request.params.protocolVersion, '2025-11-25');
  assert.equal(first.status, 401);
  assert.equal(first.wwwAuthenticate, `Bearer resource_metadata="${prmUrl(notes)}", scope="notes:read"`);
  assert.ok(log.some((e) => e.url === prmUrl(notes) && e.status === 200));
  const [token] = log.filter((e) => e.url === `${as.issuer}/token`);
  assert.deepEqual(token.form, { grant_type: 'client_credentials', scope: 'notes:read', resource: notes.resource });
  assert.deepEqual(token.issued, { scope: 'notes:read', aud: notes.resource });

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['list_notes', 'server_time', 'whoami']);
  const list = log.findLast((e) => rpcMethod(e) === 'tools/list');
  assert.equal(list.status, 200);
  assert.equal(list.protocolVersion, '2025-11-25');
  assert.equal(list.messages[0].result.cacheScope, 'private');

  const listed = await client.callTool({ name: 'list_notes', arguments: {} });
  assert.equal(listed.isError, false);

  const before403 = log.length;
  const added = await client.callTool({ name: 'add_note', arguments: { text: 'from the TypeScript 2.x client' } });
  assert.equal(added.isError, false, JSON.stringify(added));
  const stepUp = exchangesSince(log, before403, notes);
  // The exact exchange: 403 → resource metadata → AS metadata → token → the same call again.
  assert.deepEqual(stepUp.map((e) => `${e.method} ${e.url} ${e.status}`), [
    `POST ${notes.resource} 403`,
    `GET ${prmUrl(notes)} 200`,
    `GET ${as.issuer}/.well-known/oauth-authorization-server 200`,
    `POST ${as.issuer}/token 200`,
    `POST ${notes.resource} 200`,
  ]);
  assert.equal(
    stepUp[0].wwwAuthenticate,
    `Bearer error="insufficient_scope", error_description="tool add_note requires more scope", scope="notes:write notes:read", resource_metadata="${prmUrl(notes)}"`,
  );
  assert.deepEqual(stepUp[3].form, { grant_type: 'client_credentials', scope: 'notes:read notes:write', resource: notes.resource });
  assert.deepEqual(stepUp[3].issued, { scope: 'notes:read notes:write', aud: notes.resource });
  assert.deepEqual(stepUp[4].request, stepUp[0].request, 'the refused call is retried as it was');

  const widened = await client.listTools();
  assert.deepEqual(widened.tools.map((t) => t.name).sort(), ['add_note', 'list_notes', 'server_time', 'whoami']);
  await client.close();
});

test('ts client 2.x: a 403 naming only notes:write still gets a step-up that keeps notes:read', async () => {
  const log = [];
  const { client } = await connect(operationOnly, log);
  await client.callTool({ name: 'list_notes', arguments: {} });
  const before403 = log.length;
  const added = await client.callTool({ name: 'add_note', arguments: { text: 'accumulated' } });
  assert.equal(added.isError, false, JSON.stringify(added));
  const stepUp = exchangesSince(log, before403, operationOnly);
  assert.equal(stepUp[0].status, 403);
  assert.equal(
    stepUp[0].wwwAuthenticate,
    `Bearer error="insufficient_scope", error_description="tool add_note requires more scope", scope="notes:write", resource_metadata="${prmUrl(operationOnly)}"`,
  );
  const tokens = stepUp.filter((e) => e.url === `${as.issuer}/token`);
  assert.equal(tokens.length, 1);
  assert.deepEqual(tokens[0].form, { grant_type: 'client_credentials', scope: 'notes:read notes:write', resource: operationOnly.resource });
  assert.deepEqual(tokens[0].issued, { scope: 'notes:read notes:write', aud: operationOnly.resource });
  assert.equal(stepUp.at(-1).status, 200);
  // Reading still works with the new token: the earlier grant was kept.
  const listed = await client.callTool({ name: 'list_notes', arguments: {} });
  assert.equal(listed.isError, false);
  assert.equal(log.findLast((e) => rpcMethod(e) === 'tools/call').status, 200);
  await client.close();
});

// The official TypeScript MCP client against the authsec-protected notes server, with tokens from
// a real OpenID Provider: 401 → resource metadata → AS metadata → token with `resource` →
// initialize, filtered tools/list, allowed call; forbidden tool → 403 → step-up → success.
//
// Peer deviation (documented in the README): the SDK's ClientCredentialsProvider ignores the
// scope a challenge names — on the 401 and on the 403 step-up it requests only the scope it was
// constructed with — so the stock provider cannot step up. The second test shows the exact
// exchange; the first uses a provider that requests what the challenge names, as the MCP
// authorization spec says clients should.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { exchangesSince, startAuthServer, startNotesServer } from '../lib.mjs';

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
function recordingFetch(log, onChallenge = () => {}) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    const body = init.body instanceof URLSearchParams ? init.body.toString() : (typeof init.body === 'string' ? init.body : '');
    const wwwAuthenticate = res.headers.get('www-authenticate');
    if (wwwAuthenticate) onChallenge(wwwAuthenticate);
    log.push({ url: String(url), method: init.method ?? 'GET', status: res.status, wwwAuthenticate, body });
    return res;
  };
}

/** ClientCredentialsProvider that requests the scope the last challenge named. */
class ChallengeFollowingProvider extends ClientCredentialsProvider {
  challengedScope;
  get clientMetadata() {
    return { ...super.clientMetadata, scope: this.challengedScope };
  }
}

const scopeOf = (challenge) => /scope="([^"]*)"/.exec(challenge)?.[1];

test('ts client: 401 discovery, token with resource, initialize, filtered tools/list, allowed call, 403 step-up', async () => {
  const log = [];
  const provider = new ChallengeFollowingProvider({ clientId: 'agent', clientSecret: 'agent-secret', expectedIssuer: as.issuer });
  const fetchFn = recordingFetch(log, (c) => { provider.challengedScope = scopeOf(c) ?? provider.challengedScope; });
  const transport = new StreamableHTTPClientTransport(new URL(notes.resource), { authProvider: provider, fetch: fetchFn });
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
  const stepUp = exchangesSince(log, before403, notes);
  assert.equal(stepUp[0].status, 403);
  assert.match(stepUp[0].wwwAuthenticate, /^Bearer error="insufficient_scope", error_description="tool add_note requires more scope", scope="notes:write notes:read", resource_metadata="/);
  const reauth = stepUp.find((e) => e.url === `${as.issuer}/token`);
  assert.equal(new URLSearchParams(reauth.body).get('scope'), 'notes:write notes:read');
  assert.equal(stepUp.at(-1).url, notes.resource);
  assert.equal(stepUp.at(-1).status, 200);

  const who = await client.callTool({ name: 'whoami', arguments: {} });
  assert.match(JSON.stringify(who.content), /agent/);
  await client.close();
});

test('ts client deviation: the stock ClientCredentialsProvider ignores the challenged scope and cannot step up', async () => {
  const log = [];
  const provider = new ClientCredentialsProvider({ clientId: 'agent', clientSecret: 'agent-secret', expectedIssuer: as.issuer, scope: 'notes:read' });
  const transport = new StreamableHTTPClientTransport(new URL(notes.resource), { authProvider: provider, fetch: recordingFetch(log) });
  const client = new Client({ name: 'authsec-interop', version: '1.0.0' });
  await client.connect(transport);
  await assert.rejects(
    client.callTool({ name: 'add_note', arguments: { text: 'x' } }),
    /Server returned 403 after trying upscoping/,
  );
  const denials = log.filter((e) => e.status === 403);
  assert.equal(denials.length, 2, 'refused before and after the re-authorization');
  for (const d of denials) assert.match(d.wwwAuthenticate, /scope="notes:write notes:read"/);
  const tokenScopes = log.filter((e) => e.url === `${as.issuer}/token`).map((e) => new URLSearchParams(e.body).get('scope'));
  assert.deepEqual(tokenScopes, ['notes:read', 'notes:read'], 'the re-authorization asked for the old scope, not the challenged one');
  await client.close();
});

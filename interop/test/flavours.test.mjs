// The troubleshooting guide's flavours, produced by a real OpenID Provider, refused by the
// authsec-protected notes server with the exact status and reason, and named by
// `authsec diagnose --json`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer, startNotesServer, diagnose, rpc } from '../lib.mjs';

let as;
let notes; // JWT validation (JWKS discovered from the issuer)
let introspecting; // introspection_only, for opaque tokens and revocation

const callTool = (name, args = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
const finding = (report, check) => report.findings.find((f) => f.check === check);

before(async () => {
  as = await startAuthServer();
  // Stateless: each scenario is one plain JSON-RPC POST, no session handshake.
  notes = await startNotesServer(as.issuer, { AUTHSEC_CLOCK_SKEW_SECS: '0', AUTHSEC_JWKS_MIN_REFRESH_SECS: '1' }, ['--stateless']);
  introspecting = await startNotesServer(as.issuer, {
    AUTHSEC_VALIDATION_MODE: 'introspection_only',
    AUTHSEC_INTROSPECTION_URL: `${as.issuer}/token/introspection`,
    AUTHSEC_INTROSPECTION_CLIENT_ID: 'notes-rs',
    AUTHSEC_INTROSPECTION_CLIENT_SECRET: 'notes-rs-secret',
    AUTHSEC_INTROSPECTION_CACHE_TTL_SECS: '1',
  }, ['--stateless']);
});

after(() => {
  notes?.stop();
  introspecting?.stop();
  as?.stop();
});

test('flavour: a token for another resource is refused as audience_mismatch', async () => {
  const token = await as.token({ resource: 'http://127.0.0.1:1/other-mcp', scope: 'notes:read' });
  const r = await rpc(notes.resource, token, callTool('list_notes'));
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'audience_mismatch');
  assert.match(r.headers.get('www-authenticate'), /^Bearer error="invalid_token", error_description="audience mismatch", resource_metadata="/);
  const report = await diagnose(token, notes.env, ['--tool', 'list_notes']);
  assert.equal(report.verdict, 'deny');
  assert.equal(report.reason, 'audience_mismatch');
  assert.equal(finding(report, 'aud').ok, false);
  assert.equal(finding(report, 'aud').actual, 'http://127.0.0.1:1/other-mcp');
});

test('flavour: resource requested with a trailing slash is refused and diagnosed as a trailing-slash mismatch', async () => {
  const token = await as.token({ resource: `${notes.resource}/`, scope: 'notes:read' });
  const r = await rpc(notes.resource, token, callTool('list_notes'));
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'audience_mismatch');
  const report = await diagnose(token, notes.env, ['--tool', 'list_notes']);
  assert.equal(report.reason, 'audience_mismatch');
  assert.match(finding(report, 'aud').hint, /trailing slash/i);
});

test('flavour: a token requested without resource has no audience (introspection mode)', async () => {
  await as.control('format?f=opaque');
  try {
    const token = await as.token({ scope: 'notes:read' });
    const r = await rpc(introspecting.resource, token, callTool('list_notes'));
    assert.equal(r.status, 401);
    assert.equal(r.body.reason, 'audience_mismatch');
    const report = await diagnose(token, introspecting.env, ['--online', '--tool', 'list_notes']);
    assert.equal(report.reason, 'audience_mismatch');
    assert.equal(finding(report, 'active').ok, true);
    assert.equal(finding(report, 'aud').ok, false);
    assert.equal(finding(report, 'aud').actual, null);
  } finally {
    await as.control('format?f=jwt');
  }
});

test('flavour: an expired token is refused as token_expired', async () => {
  await as.control('ttl?seconds=1');
  let token;
  try {
    token = await as.token({ resource: notes.resource, scope: 'notes:read' });
  } finally {
    await as.control('ttl?seconds=3600');
  }
  await new Promise((r) => setTimeout(r, 2100));
  const r = await rpc(notes.resource, token, callTool('list_notes'));
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'token_expired');
  assert.match(r.headers.get('www-authenticate'), /error_description="expired"/);
  const report = await diagnose(token, notes.env, ['--tool', 'list_notes']);
  assert.equal(report.reason, 'token_expired');
  assert.equal(finding(report, 'exp').ok, false);
});

test('flavour: a token revoked at the authorization server is refused as token_revoked within the cache TTL', async () => {
  await as.control('format?f=opaque');
  try {
    const token = await as.token({ resource: introspecting.resource, scope: 'notes:read' });
    const ok = await rpc(introspecting.resource, token, callTool('list_notes'));
    assert.equal(ok.status, 200);
    await as.revoke(token);
    await new Promise((r) => setTimeout(r, 1100));
    const r = await rpc(introspecting.resource, token, callTool('list_notes'));
    assert.equal(r.status, 401);
    assert.equal(r.body.reason, 'token_revoked');
    assert.match(r.headers.get('www-authenticate'), /error_description="token inactive"/);
    const report = await diagnose(token, introspecting.env, ['--online', '--tool', 'list_notes']);
    assert.equal(report.reason, 'token_revoked');
    assert.equal(finding(report, 'active').ok, false);
  } finally {
    await as.control('format?f=jwt');
  }
});

test('flavour: a consented scope subset gets 403 insufficient_scope naming required_scopes', async () => {
  // `reader` may only be granted notes:read, whatever it asks for.
  const token = await as.token({ client: 'reader', resource: notes.resource, scope: 'notes:read' });
  const r = await rpc(notes.resource, token, callTool('add_note', { text: 'x' }));
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'insufficient_scope');
  assert.deepEqual(r.body.required_scopes, ['notes:write']);
  assert.deepEqual(r.body.granted_scopes, ['notes:read']);
  assert.equal(r.body.tool, 'add_note');
  const report = await diagnose(token, notes.env, ['--tool', 'add_note']);
  assert.equal(report.status, 403);
  assert.equal(finding(report, 'scope').ok, false);
});

test('flavour: the signing key rotated at the authorization server mid-run still validates', async () => {
  const before = await as.token({ resource: notes.resource, scope: 'notes:read' });
  assert.equal((await rpc(notes.resource, before, callTool('list_notes'))).status, 200);
  await as.control('rotate');
  await new Promise((r) => setTimeout(r, 1100)); // past the unknown-kid refresh interval
  const after = await as.token({ resource: notes.resource, scope: 'notes:read' });
  const headerOf = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url'));
  assert.notEqual(headerOf(after).kid, headerOf(before).kid, 'the new token is signed by the new key');
  assert.equal((await rpc(notes.resource, after, callTool('list_notes'))).status, 200);
  assert.equal((await rpc(notes.resource, before, callTool('list_notes'))).status, 200, 'the old key is still published');
});

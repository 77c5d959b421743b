// The official Python MCP client (`mcp` from PyPI) against the authsec-protected notes server:
// the same bearer flow and 401/403 handling as the TypeScript client, in both protocol eras —
// the 2025 handshake (`initialize`, a session) and MCP 2026-07-28 (`server/discover`, stateless).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT, startAuthServer, startNotesServer } from '../lib.mjs';

const PYTHON = process.env.AUTHSEC_INTEROP_PYTHON ?? path.join(ROOT, 'interop', '.venv', 'bin', 'python');

let as;
let notes;

before(async () => {
  as = await startAuthServer();
  notes = await startNotesServer(as.issuer, { AUTHSEC_BASE_SCOPES: 'notes:read' });
});

after(() => {
  notes?.stop();
  as?.stop();
});

function runClient(mode) {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [path.join(ROOT, 'interop', 'py_client.py'), notes.resource, as.issuer, mode], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python client failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

const prmUrl = () => `http://127.0.0.1:${notes.port}/.well-known/oauth-protected-resource/mcp`;
const rpcMethod = (e) => e.request?.method;
const toolNames = (e) => e.messages[0].result.tools.map((t) => t.name).sort();

test('python client: 401 discovery, token with resource, filtered tools/list, allowed call, 403 step-up', async () => {
  const out = await runClient('handshake');
  assert.equal(out.protocol_version, '2025-11-25');
  const mcp = out.exchanges.filter((e) => e.url === notes.resource);
  assert.equal(mcp[0].status, 401);
  assert.equal(mcp[0].www_authenticate, `Bearer resource_metadata="${prmUrl()}", scope="notes:read"`);
  const tokenRequests = out.exchanges.filter((e) => e.url === `${as.issuer}/token`);
  assert.equal(tokenRequests[0].form.resource, notes.resource);
  assert.equal(tokenRequests[0].form.scope, 'notes:read');
  assert.deepEqual(out.tools, ['list_notes', 'server_time', 'whoami']);
  assert.equal(out.list_notes_is_error, false);
  const denied = mcp.find((e) => e.status === 403);
  assert.ok(denied, 'add_note was first refused with 403');
  assert.match(denied.www_authenticate, /error="insufficient_scope"/);
  // A 2025-era request: the challenge names the operation's scope plus what was granted.
  assert.match(denied.www_authenticate, /scope="notes:write notes:read"/);
  assert.ok(tokenRequests.length >= 2, 'the client re-authorized');
  assert.match(tokenRequests.at(-1).form.scope, /notes:write/);
  assert.equal(out.add_note_is_error, false, JSON.stringify(out.add_note));
});

test('python client, MCP 2026-07-28: server/discover, stateless calls, private filtered list, 403 naming only notes:write, accumulated step-up', async () => {
  const out = await runClient('discover');
  assert.equal(out.protocol_version, '2026-07-28');
  assert.ok(out.supported_versions.includes('2026-07-28'));
  const mcp = out.exchanges.filter((e) => e.url === notes.resource);

  // Stateless: no handshake, no session, no standing GET stream; every request names its
  // revision in the header and in _meta.
  assert.deepEqual(mcp.filter((e) => e.method !== 'POST'), []);
  assert.equal(mcp.some((e) => rpcMethod(e) === 'initialize'), false);
  for (const e of mcp) {
    assert.equal(e.session_id, null, 'no Mcp-Session-Id handed out');
    assert.equal(e.request_headers['mcp-session-id'], undefined);
    assert.equal(e.request_headers['mcp-protocol-version'], '2026-07-28');
    assert.equal(e.request_headers['mcp-method'], rpcMethod(e));
    assert.equal(e.request.params._meta['io.modelcontextprotocol/protocolVersion'], '2026-07-28');
  }

  // server/discover without a token: 401 naming the metadata and the base scope.
  assert.equal(rpcMethod(mcp[0]), 'server/discover');
  assert.equal(mcp[0].status, 401);
  assert.equal(mcp[0].www_authenticate, `Bearer resource_metadata="${prmUrl()}", scope="notes:read"`);
  assert.deepEqual(mcp[0].messages, [{ error_description: 'no bearer token', reason: 'no_token' }]);
  const prm = out.exchanges.findIndex((e) => e.url === prmUrl());
  const asMetadata = out.exchanges.findIndex((e) => e.url === `${as.issuer}/.well-known/oauth-authorization-server`);
  assert.ok(prm > 0 && asMetadata > prm, 'resource metadata, then the authorization server metadata');
  assert.equal(out.exchanges[prm].status, 200);

  const tokenRequests = out.exchanges.filter((e) => e.url === `${as.issuer}/token`);
  assert.equal(tokenRequests.length, 2, 'one token, one step-up');
  assert.deepEqual(tokenRequests[0].form, { grant_type: 'client_credentials', resource: notes.resource, scope: 'notes:read' });
  assert.deepEqual(tokenRequests[0].issued, { scope: 'notes:read', aud: notes.resource });

  const discovered = mcp[1];
  assert.equal(rpcMethod(discovered), 'server/discover');
  assert.equal(discovered.status, 200);
  assert.ok(discovered.messages[0].result.supportedVersions.includes('2026-07-28'));

  // tools/list: filtered for this caller and marked private.
  const lists = mcp.filter((e) => rpcMethod(e) === 'tools/list');
  assert.equal(lists[0].status, 200);
  assert.deepEqual(toolNames(lists[0]), ['list_notes', 'server_time', 'whoami']);
  assert.equal(lists[0].messages[0].result.cacheScope, 'private');
  assert.deepEqual(out.tools, ['list_notes', 'server_time', 'whoami']);
  assert.equal(out.list_notes_is_error, false);

  // add_note: 403 naming only the operation's scope (2026-07-28: the client accumulates).
  const calls = mcp.filter((e) => rpcMethod(e) === 'tools/call' && e.request.params.name === 'add_note');
  assert.deepEqual(calls.map((e) => e.status), [403, 200]);
  assert.equal(calls[0].request_headers['mcp-name'], 'add_note');
  assert.equal(
    calls[0].www_authenticate,
    `Bearer error="insufficient_scope", error_description="tool add_note requires more scope", scope="notes:write", resource_metadata="${prmUrl()}"`,
  );
  assert.deepEqual(calls[0].messages, [{
    error: 'insufficient_scope',
    error_description: 'tool add_note requires more scope',
    reason: 'insufficient_scope',
    tool: 'add_note',
    required_scopes: ['notes:write'],
    granted_scopes: ['notes:read'],
  }]);

  // The step-up asks for what it had plus what the challenge named (SEP-2350), and gets both.
  const stepUp = tokenRequests[1];
  assert.deepEqual(stepUp.form, { grant_type: 'client_credentials', resource: notes.resource, scope: 'notes:read notes:write' });
  assert.deepEqual(stepUp.issued, { scope: 'notes:read notes:write', aud: notes.resource });
  assert.ok(out.exchanges.indexOf(stepUp) > out.exchanges.indexOf(calls[0]) && out.exchanges.indexOf(stepUp) < out.exchanges.indexOf(calls[1]));
  assert.equal(out.add_note_is_error, false, JSON.stringify(out.add_note));
  assert.equal(calls[1].messages[0].result.isError, false);

  // With the wider token the list shows the tool the caller may now call, still private.
  const widened = lists.at(-1);
  assert.ok(out.exchanges.indexOf(widened) > out.exchanges.indexOf(calls[1]), 'the client listed tools again after the step-up');
  assert.deepEqual(toolNames(widened), ['add_note', 'list_notes', 'server_time', 'whoami']);
  assert.equal(widened.messages[0].result.cacheScope, 'private');
});

// The official Python MCP client (`mcp` from PyPI) against the authsec-protected notes server:
// the same bearer flow and 401/403 handling as the TypeScript client.
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

function runClient() {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [path.join(ROOT, 'interop', 'py_client.py'), notes.resource, as.issuer], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python client failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

test('python client: 401 discovery, token with resource, filtered tools/list, allowed call, 403 step-up', async () => {
  const out = await runClient();
  const mcp = out.exchanges.filter((e) => e.url === notes.resource);
  assert.equal(mcp[0].status, 401);
  assert.equal(
    mcp[0].www_authenticate,
    `Bearer resource_metadata="http://127.0.0.1:${notes.port}/.well-known/oauth-protected-resource/mcp", scope="notes:read"`,
  );
  const tokenRequests = out.exchanges.filter((e) => e.url === `${as.issuer}/token`);
  assert.equal(tokenRequests[0].form.resource, notes.resource);
  assert.equal(tokenRequests[0].form.scope, 'notes:read');
  assert.deepEqual(out.tools, ['list_notes', 'server_time', 'whoami']);
  assert.equal(out.list_notes_is_error, false);
  const denied = mcp.find((e) => e.status === 403);
  assert.ok(denied, 'add_note was first refused with 403');
  assert.match(denied.www_authenticate, /error="insufficient_scope"/);
  assert.match(denied.www_authenticate, /scope="notes:write notes:read"/);
  assert.ok(tokenRequests.length >= 2, 'the client re-authorized');
  assert.match(tokenRequests.at(-1).form.scope, /notes:write/);
  assert.equal(out.add_note_is_error, false, JSON.stringify(out.add_note));
});

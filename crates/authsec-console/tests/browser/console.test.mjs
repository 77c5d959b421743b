// Browser tests of the web console: the real `authsec console` and the notes example (with
// manifest publishing and remote_required policy) on loopback, driven in headless Chromium.
//
// Run by scripts/browser-tests.sh, which installs Chromium and these packages and builds the
// binaries. AUTHSEC_SCREENSHOTS=<dir> saves the documentation screenshots there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..', '..', '..');
const BIN_DIR = process.env.AUTHSEC_BIN_DIR ?? path.join(ROOT, 'target', 'debug');
const AUTHSEC = path.join(BIN_DIR, 'authsec');
const NOTES = path.join(BIN_DIR, 'notes-server');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.AUTHSEC_SCREENSHOTS;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TOOLS = ['add_note', 'delete_note', 'list_notes', 'server_time', 'whoami'];
const ARGS = { add_note: { text: 'from the browser test' }, delete_note: { id: 999 }, list_notes: {}, server_time: {}, whoami: {} };
const XSS_NAME = '<img src=x onerror="window.__xss=1">';

const procs = [];
const dirs = [];
let browser;
let console1; // { base, adminToken, link, proc }
let admin; // the signed-in page (context with the session)
let notes; // { resource, url, proc }
let rs; // { id, secret }
const clients = {}; // name -> { id, secret }

async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts `authsec console`; resolves with its URL, admin token and sign-in link. */
async function startConsole(env = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'authsec-browser-'));
  dirs.push(dir);
  const proc = spawn(AUTHSEC, ['console', '--database-url', path.join(dir, 'console.db'), '--listen', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH, AUTHSEC_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(proc);
  const lines = createInterface({ input: proc.stderr });
  let adminToken; let base; let link;
  for await (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('asa_')) adminToken = line;
    const serving = /serving (http:\/\/\S+)/.exec(line);
    if (serving) base = serving[1];
    if (line.includes('/sign-in/link?token=')) { link = line; break; }
  }
  lines.on('line', () => {});
  assert.ok(base && link && adminToken, 'the console printed its URL, the admin token and a sign-in link');
  return { base, adminToken, link, proc };
}

/** Starts the notes example against the console: manifest publishing on, policy from the console. */
async function startNotes(port, rsId, secret) {
  const resource = `http://127.0.0.1:${port}/mcp`;
  const proc = spawn(NOTES, ['--listen', `127.0.0.1:${port}`, '--stateless'], {
    env: {
      PATH: process.env.PATH,
      AUTHSEC_ISSUER: console1.base,
      AUTHSEC_RESOURCE_URI: resource,
      AUTHSEC_RESOURCE_SERVER_ID: rsId,
      AUTHSEC_CONSOLE_URL: console1.base,
      AUTHSEC_INTROSPECTION_CLIENT_ID: rsId,
      AUTHSEC_INTROSPECTION_CLIENT_SECRET: secret,
      AUTHSEC_POLICY_MODE: 'remote_required',
      AUTHSEC_PUBLISH_MANIFEST: 'true',
      // Suggestions only: the console's mapping decides.
      AUTHSEC_TOOL_SCOPES_JSON: JSON.stringify({ list_notes: ['notes:read'], add_note: ['notes:write'], delete_note: ['notes:admin'] }),
      AUTHSEC_PROMPT_SCOPES_JSON: JSON.stringify({ summarize_notes: ['notes:read'] }),
      AUTHSEC_LOG: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 400; i++) {
    if (proc.exitCode !== null) throw new Error(`notes-server exited: ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`);
      if (r.ok) return { resource, proc, stderr: () => stderr };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`notes-server did not start: ${stderr}`);
}

async function token(client) {
  const r = await fetch(`${console1.base}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: notes.resource }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.access_token;
}

/** A tools/call on the live notes server: status, reason, WWW-Authenticate, body. */
async function call(tok, tool) {
  const r = await fetch(notes.resource, {
    method: 'POST',
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: ARGS[tool] ?? {} } }),
  });
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* an SSE or empty answer */ }
  return { status: r.status, www: r.headers.get('www-authenticate'), body, reason: r.status === 200 ? 'allowed' : body?.reason };
}

async function newPage(opts = {}) {
  const context = await browser.newContext(opts);
  return context.newPage();
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
}

/** axe-core on the current page: no serious or critical violation. */
async function accessible(page, what) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`),
    [],
    `${what}: accessibility violations`,
  );
}

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  console1 = await startConsole();
});

after(async () => {
  await browser?.close();
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the printed one-time link signs in; the session cookie is HttpOnly and SameSite=Strict', async () => {
  admin = await newPage({ viewport: { width: 1400, height: 900 } });
  await admin.goto(console1.link);
  await admin.waitForURL(`${console1.base}/`);
  assert.equal(await admin.locator('h1').textContent(), 'Resource servers');
  const [cookie] = await admin.context().cookies();
  assert.equal(cookie.name, 'authsec_console');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  // A link works once.
  const other = await newPage();
  await other.goto(console1.link);
  assert.match(other.url(), /\/sign-in\?done=expired$/);
  await other.context().close();
});

test('create a resource server; its credentials are shown once', async () => {
  const port = await freePort();
  notes = { resource: `http://127.0.0.1:${port}/mcp`, port };
  await admin.getByLabel('Name').fill('notes');
  await admin.getByLabel('Resource URI').fill(notes.resource);
  await admin.getByLabel('Scopes (optional)').fill('notes:read notes:write\nnotes:admin');
  await admin.getByRole('button', { name: 'Create resource server' }).click();
  await admin.waitForSelector('#rs-client-secret');
  rs = { id: await admin.locator('#rs-client-id').textContent(), secret: await admin.locator('#rs-client-secret').textContent() };
  assert.match(rs.id, /^rs-[0-9a-f]{8}$/);
  await admin.getByRole('link', { name: 'Continue to notes' }).click();
  assert.match(await admin.locator('.checklist').textContent(), /At least one tool, prompt or resource is mapped or public/);
});

test('the notes example publishes its manifest: its tools arrive unmapped in the Tools tab', async () => {
  Object.assign(notes, await startNotes(notes.port, rs.id, rs.secret));
  await admin.goto(`${console1.base}/servers/${rs.id}/tools`);
  const unmapped = await admin.locator('#tool-rows tr.unmapped .tool-name').allTextContents();
  assert.deepEqual(unmapped.sort(), TOOLS);
  assert.match(await admin.locator('#tool-summary').textContent(), /5 unmapped/);
});

test('clients: create two, each secret shown once', async () => {
  for (const [name, scopes] of [['writer', ['notes:read', 'notes:write']], ['reader', ['notes:read']]]) {
    await admin.goto(`${console1.base}/servers/${rs.id}/clients`);
    await admin.getByLabel('Name').fill(name);
    for (const s of scopes) await admin.locator('form[action$="/clients"]').getByLabel(s, { exact: true }).check();
    await admin.getByRole('button', { name: 'Create client' }).click();
    await admin.waitForSelector('#client-secret');
    clients[name] = { id: await admin.locator('#client-id').textContent(), secret: await admin.locator('#client-secret').textContent() };
  }
  await admin.goto(`${console1.base}/servers/${rs.id}/clients`);
  assert.equal(await admin.locator('tbody tr').count(), 2);
});

test('map add_note in the Tools tab: the running server goes from 403 tool_unmapped to 200 without a restart', async () => {
  // Bulk: the two informational tools become public, which completes the policy.
  await admin.goto(`${console1.base}/servers/${rs.id}/tools`);
  await admin.getByLabel('Select server_time').check();
  await admin.getByLabel('Select whoami').check();
  await admin.getByLabel('Rule').selectOption('public');
  await admin.getByRole('button', { name: 'Apply to the selected tools' }).click();
  await admin.waitForSelector('.notice.ok');

  const tok = await token(clients.writer);
  let before;
  for (let i = 0; i < 100; i++) {
    before = await call(tok, 'add_note');
    if (before.reason === 'tool_unmapped') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(before.status, 403);
  assert.equal(before.reason, 'tool_unmapped');

  const row = admin.locator('#tool-rows tr', { has: admin.locator('code', { hasText: /^add_note$/ }) });
  assert.equal(await row.getByLabel('Scope for add_note').inputValue(), 'notes:write', 'the suggested scope is preselected');
  // The live server is polled while the browser submits the form and loads the next page.
  const clicked = Date.now();
  const click = row.getByRole('button', { name: 'Map add_note' }).click();
  let afterCall;
  for (let i = 0; i < 400; i++) {
    afterCall = await call(tok, 'add_note');
    if (afterCall.status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = Date.now() - clicked;
  await click;
  assert.equal(afterCall.status, 200);
  // Reported, not asserted: speed is shown by measurement, never by a timing assertion
  // (goal < 1 s; the book's console page has the figures).
  console.log(`# add_note: 403 tool_unmapped -> 200 in ${ms} ms from the click (goal < 1 s)`);
  assert.ok(notes.proc.exitCode === null, 'no restart');
  await admin.waitForSelector('.notice.ok');
  await shot(admin, 'console-tools.png');
});

/** A prompts/get on the live notes server: status and reason. */
async function getPrompt(tok, name) {
  const r = await fetch(notes.resource, {
    method: 'POST',
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name } }),
  });
  const body = await r.json().catch(() => null);
  return { status: r.status, reason: r.status === 200 ? 'allowed' : body?.reason };
}

test('map summarize_notes in the Prompts tab: the running server goes from 403 prompt_unmapped to 200', async () => {
  const tok = await token(clients.reader);
  assert.deepEqual(await getPrompt(tok, 'summarize_notes'), { status: 403, reason: 'prompt_unmapped' });
  await admin.goto(`${console1.base}/servers/${rs.id}/prompts`);
  const row = admin.locator('tr.unmapped', { has: admin.locator('code', { hasText: /^summarize_notes$/ }) });
  assert.equal(await row.getByLabel('Scope for summarize_notes').inputValue(), 'notes:read', 'the suggested scope is preselected');
  await row.getByRole('button', { name: 'Map summarize_notes' }).click();
  await admin.waitForSelector('.notice.ok');
  let after;
  for (let i = 0; i < 400; i++) {
    after = await getPrompt(tok, 'summarize_notes');
    if (after.status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(after, { status: 200, reason: 'allowed' });
  // The resources arrived with the manifest too, unmapped.
  await admin.goto(`${console1.base}/servers/${rs.id}/resources`);
  assert.deepEqual(
    (await admin.locator('tr.unmapped .tool-name').allTextContents()).sort(),
    ['notes://all', 'notes://note/{id}'],
  );
});

test('the tool page maps list_notes (any of notes:read)', async () => {
  await admin.goto(`${console1.base}/servers/${rs.id}/tool?name=list_notes`);
  await admin.getByLabel('Callers need scopes').check();
  await admin.locator('form[action$="/tools/map"]').getByLabel('notes:read', { exact: true }).check();
  await admin.getByRole('button', { name: 'Save rule' }).click();
  await admin.waitForSelector('.notice.ok');
  assert.match(await admin.locator('#rule').locator('..').textContent(), /any of\s+notes:read/);
});

test('the simulator agrees with the live server on every tool, for two clients', async () => {
  for (const name of ['writer', 'reader']) {
    const tok = await token(clients[name]);
    await admin.goto(`${console1.base}/servers/${rs.id}/simulator`);
    await admin.getByLabel('Client').selectOption(clients[name].id);
    // The server is called without MCP-Protocol-Version: the 2025 rules for a 403's scope.
    await admin.getByLabel('MCP revision').selectOption('2025-11-25');
    await admin.getByRole('button', { name: 'Simulate' }).click();
    await admin.waitForSelector('#sim-results');
    for (const tool of TOOLS) {
      const live = await call(tok, tool);
      const row = admin.locator(`#sim-results tr[data-tool="${tool}"]`);
      const simulated = {
        status: Number(await row.getAttribute('data-status')),
        reason: await row.getAttribute('data-reason'),
      };
      assert.deepEqual(simulated, { status: live.status, reason: live.reason }, `${name} → ${tool}`);
      if (live.status !== 200) {
        const www = (await row.locator('p code').textContent()).replace(/^WWW-Authenticate: /, '');
        assert.equal(www, live.www, `${name} → ${tool}: WWW-Authenticate`);
        assert.deepEqual(JSON.parse(await row.locator('pre').textContent()), live.body, `${name} → ${tool}: body`);
      }
    }
    if (name === 'reader') {
      await row0Open(admin);
      await shot(admin, 'console-simulator.png');
    }
  }
});

async function row0Open(page) {
  const denied = page.locator('#sim-results tr.denied details').first();
  if (await denied.count()) await denied.locator('summary').click();
}

test('the overview shows the launch checklist and the SDK status', async () => {
  await admin.goto(`${console1.base}/servers/${rs.id}`);
  const items = admin.locator('.checklist li');
  assert.equal(await items.count(), 6);
  assert.match(await admin.locator('#sdk-fetch').textContent(), /holds generation \d+\s+current/);
  assert.match(await admin.locator('.checklist').textContent(), /To do: No tool is left unmapped/);
  await shot(admin, 'console-checklist.png');
});

test('a tool named like markup, published in a manifest, is shown as text', async () => {
  const r = await fetch(`${console1.base}/authsec/resource-servers/${rs.id}/sdk-manifest`, {
    method: 'PUT',
    headers: { authorization: `Basic ${Buffer.from(`${rs.id}:${rs.secret}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify([{ name: XSS_NAME, description: '<script>window.__xss=2</script>', annotations: { title: '<b>x</b>' } }]),
  });
  assert.equal(r.status, 200);
  for (const url of [`/servers/${rs.id}/tools`, `/servers/${rs.id}/tool?name=${encodeURIComponent(XSS_NAME)}`, `/audit`]) {
    await admin.goto(`${console1.base}${url}`);
    assert.equal(await admin.locator('main img').count(), 0, url);
    assert.equal(await admin.locator('main script, main b').count(), 0, url);
    assert.equal(await admin.evaluate(() => window.__xss), undefined, url);
  }
  await admin.goto(`${console1.base}/servers/${rs.id}/tools`);
  const names = await admin.locator('#tool-rows .tool-name').allTextContents();
  assert.ok(names.includes(XSS_NAME), names.join(', '));
});

test('a form without, or with a wrong, CSRF token is refused', async () => {
  for (const mutate of ['remove', 'forge']) {
    await admin.goto(`${console1.base}/servers/${rs.id}/scopes`);
    await admin.getByLabel('Scope', { exact: true }).fill(`notes:${mutate}`);
    await admin.evaluate((m) => {
      const field = document.querySelector('form[action$="/scopes"] input[name=csrf]');
      if (m === 'remove') field.remove(); else field.value = 'forged-csrf-token';
    }, mutate);
    const [resp] = await Promise.all([
      admin.waitForResponse((r) => r.request().method() === 'POST'),
      admin.getByRole('button', { name: 'Define scope' }).click(),
    ]);
    assert.equal(resp.status(), 403, mutate);
    await admin.waitForSelector('h1:text("Form refused")');
  }
  await admin.goto(`${console1.base}/servers/${rs.id}/scopes`);
  const scopes = await admin.locator('tbody th code').allTextContents();
  assert.deepEqual(scopes, ['notes:admin', 'notes:read', 'notes:write']);
});

test('deleting a scope in use is refused with the reason', async () => {
  await admin.goto(`${console1.base}/servers/${rs.id}/scopes`);
  await admin.getByRole('button', { name: 'Delete notes:write' }).click();
  assert.match(await admin.locator('.notice.error').textContent(), /in use by tools \[add_note\] and clients \[cl-[0-9a-f]+\]/);
});

test('the keyboard alone signs in and maps a tool', async () => {
  const page = await newPage();
  await page.goto(`${console1.base}/sign-in`);
  await page.keyboard.type(console1.adminToken); // the token field has focus
  await page.keyboard.press('Enter');
  await page.waitForURL(`${console1.base}/`);
  await page.goto(`${console1.base}/servers/${rs.id}/tools?state=unmapped&q=delete_note`);
  let reached = false;
  for (let i = 0; i < 200 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Map delete_note');
  }
  assert.ok(reached, 'Tab reaches the Map button of delete_note');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.notice.ok');
  const r = await fetch(`${console1.base}/api/resource-servers/${rs.id}/tools/delete_note`, {
    headers: { authorization: `Bearer ${console1.adminToken}` },
  });
  assert.equal((await r.json()).state, 'mapped');
  await page.context().close();
});

test('the pages pass axe-core with no serious or critical violation', async () => {
  const client = clients.reader.id;
  const pages = ['/', `/servers/${rs.id}`, `/servers/${rs.id}/tools`, `/servers/${rs.id}/tool?name=add_note`,
    `/servers/${rs.id}/prompts`, `/servers/${rs.id}/resources`,
    `/servers/${rs.id}/scopes`, `/servers/${rs.id}/clients`, `/servers/${rs.id}/simulator?client=${client}`, '/audit', '/console'];
  for (const p of pages) {
    await admin.goto(`${console1.base}${p}`);
    await accessible(admin, p);
  }
  const anon = await newPage();
  await anon.goto(`${console1.base}/sign-in`);
  await accessible(anon, '/sign-in');
  await anon.context().close();
});

test('a session cookie is refused after sign-out', async () => {
  const cookies = await admin.context().cookies();
  await admin.goto(`${console1.base}/`);
  await admin.getByRole('button', { name: 'Sign out' }).click();
  await admin.waitForURL(/\/sign-in\?done=signed_out$/);
  const replay = await browser.newContext();
  await replay.addCookies(cookies);
  const page = await replay.newPage();
  await page.goto(`${console1.base}/servers/${rs.id}/tools`);
  assert.match(page.url(), /\/sign-in\?next=/);
  await replay.close();
});

test('a session cookie is refused after it expires', async () => {
  const short = await startConsole({ AUTHSEC_CONSOLE_SESSION_LIFETIME_SECS: '2' });
  const page = await newPage();
  await page.goto(short.link);
  await page.waitForURL(`${short.base}/`);
  await new Promise((r) => setTimeout(r, 3000));
  await page.goto(`${short.base}/audit`);
  assert.match(page.url(), /\/sign-in\?next=%2Faudit$/);
  await page.context().close();
  short.proc.kill('SIGTERM');
});

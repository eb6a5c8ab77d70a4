// run.mjs - the dashboard's browser tests: Debian's headless Chromium driven
// by playwright-core against a running quire stack.
//   QUIRE_URL=http://127.0.0.1:PORT QUIRE_ADMIN_TOKEN=qr_... node tests/browser/run.mjs [name-filter]
// Optional: QUIRE_BROWSER_OUT (screenshots; default /tmp/quire-browser),
// QUIRE_BIN (for quirectl when the API cannot create users), CHROMIUM.
// A test the server cannot support yet is skipped with its reason, never
// passed. The last line is "N passed, N failed, N skipped".
import { chromium } from 'playwright-core';
import { mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';

const BASE = (process.env.QUIRE_URL || '').replace(/\/$/, '');
const ADMIN = process.env.QUIRE_ADMIN_TOKEN || '';
const OUT = process.env.QUIRE_BROWSER_OUT || '/tmp/quire-browser';
const FILTER = process.argv[2] || '';
const CLIPS = '/usr/share/pocketsphinx/test/data/librivox';
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

if (!BASE || !ADMIN) {
  console.log('browser tests need QUIRE_URL and QUIRE_ADMIN_TOKEN');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });

class Skip extends Error {}
const skip = (why) => { throw new Skip(why); };
function assert(cond, msg) { if (!cond) throw new Error(msg); }

// ---- the API as seen from the test (to decide what to skip) ----------------
async function api(method, p, { token = ADMIN, json, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) { h['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  const res = await fetch(BASE + p, { method, headers: h, body });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}
// Does the server have this endpoint? (404 "no endpoint" / 405 mean no.)
const hasCache = new Map();
async function has(method, p, json) {
  const k = `${method} ${p}`;
  if (hasCache.has(k)) return hasCache.get(k);
  const r = await api(method, p, { json });
  const msg = r.data && r.data.error ? String(r.data.error.message || '') : '';
  const yes = !((r.status === 404 && /^no endpoint/.test(msg)) || r.status === 405 || r.status === 501);
  hasCache.set(k, yes);
  return yes;
}

// ---- browser ----------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});

// A fresh context (empty sessionStorage) and page with console watching.
async function newPage(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, baseURL: BASE });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    // The browser logs every non-2xx answer as "Failed to load resource";
    // the page handles those (they are what it explains to people).
    if (/^Failed to load resource: the server responded with a status of/.test(t)) return;
    page.problems.push(`console error: ${t}`);
  });
  page.setDefaultTimeout(15000);
  return page;
}

async function signIn(page, token = ADMIN) {
  await page.goto('/#/signin');
  await page.fill('#token', token);
  await page.click('#signin-btn');
  await page.waitForSelector('#signout', { timeout: 15000 });
}

async function shot(page, name) {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The text of the page must never be raw JSON or empty.
async function assertReadable(page, where) {
  const text = (await page.textContent('main')) || '';
  assert(text.trim().length > 0, `${where}: the page is blank`);
  assert(!/\{\s*"error"\s*:/.test(text) && !/"code"\s*:\s*"/.test(text), `${where}: raw JSON on the page: ${text.slice(0, 200)}`);
}


// ---- workers and fixtures the tests may start on the test stack -------------
// A quire-worker for these types, started from QUIRE_BIN with the stack's
// environment (tests/run.sh exports it). -> the process, or a reason string
// when this build's worker cannot serve the types. Stopped by stopWorkers().
const started = [];
async function startWorker(types, extra = []) {
  const bin = process.env.QUIRE_BIN && path.join(process.env.QUIRE_BIN, 'quire-worker');
  if (!bin || !existsSync(bin)) return 'no quire-worker binary (QUIRE_BIN is not set)';
  if (!process.env.QUIRE_DB_SOCKET && !process.env.QUIRE_VAR) return 'the stack environment (QUIRE_VAR / QUIRE_DB_SOCKET) is not set';
  let stderr = '';
  const p = spawn(bin, ['--id', `worker-browser-${types.replace(/[^a-z]/g, '')}`, '--types', types, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr.on('data', (d) => { stderr += d; });
  const exited = await new Promise((resolve) => { p.on('exit', (code) => resolve(code ?? -1)); setTimeout(() => resolve(null), 2000); });
  if (exited !== null) return `this build's quire-worker cannot serve ${types} (${stderr.trim().split('\n').pop() || `exit ${exited}`})`;
  started.push(p);
  return p;
}
function stopWorkers() { for (const p of started) if (p.exitCode === null) p.kill('SIGTERM'); }
process.on('exit', stopWorkers);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopWorkers(); process.exit(130); });

// A job that fails for good: a noop job told to fail, run once by a worker.
// Through the queue API when the server has it, else enqueued as a pending
// row in the test stack's private database; the failing is done by a real
// worker through lib/queue. -> job id, or a reason string.
async function makeFailedJob() {
  let id = null;
  const payload = { fail_times: 100, permanent: true };
  if (await has('POST', '/api/v1/queue/noop.browser/jobs', {})) {
    const r = await api('POST', '/api/v1/queue/noop.browser/jobs', { json: { ...payload, max_attempts: 1, payload } });
    id = r.data && (r.data.job_id || r.data.id);
  }
  const sock = process.env.QUIRE_DB_SOCKET || (process.env.QUIRE_VAR && path.join(process.env.QUIRE_VAR, 'run/mysqld.sock'));
  if (!id && sock && existsSync(sock)) {
    const out = execFileSync('mariadb', ['--no-defaults', '-S', sock, '-u', 'root', '-N', 'quire', '-e',
      `INSERT INTO jobs (type, status, payload, max_attempts, owner_id) VALUES ('noop.browser', 'pending', '${JSON.stringify(payload)}', 1, 1); SELECT LAST_INSERT_ID();`], { encoding: 'utf8' });
    id = out.trim().split('\n').pop();
  }
  if (!id) return 'cannot enqueue a job on this stack';
  const w = await startWorker('noop.browser', ['--idle-exit', '3']);
  if (typeof w === 'string') return w;
  for (let i = 0; i < 60; i++) {
    const j = await api('GET', `/api/v1/jobs/${id}`);
    if (j.data && j.data.status === 'failed') {
      // Stop the worker, so the retried job waits as pending where the test can see it.
      w.kill('SIGTERM');
      await new Promise((r) => { if (w.exitCode !== null) r(); else w.on('exit', r); });
      return String(id);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return `job ${id} did not fail in 30 s`;
}

// Runs in the page: visible text whose colour contrast with its background is
// under WCAG AA (4.5:1, or 3:1 for large text). Disabled controls are exempt.
function lowContrast() {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return { r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim() || el.closest('svg, .sr-only, [hidden], option, :disabled, script, style, noscript')) continue;
    seen.add(el);
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) continue;
    const fg = parse(cs.color), bg = bgOf(el);
    if (!fg) continue;
    const L1 = lum(fg), L2 = lum(bg);
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push(`"${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
  }
  return out;
}

// ---- tests --------------------------------------------------------------------
const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('sign in and sign out', async () => {
  const page = await newPage();
  await page.goto('/');
  await page.waitForSelector('#signin-form');
  assert(await page.isHidden('#nav'), 'navigation shows before sign-in');
  await signIn(page);
  await page.waitForSelector('main h1');
  assert(await page.isVisible('#nav'), 'navigation hidden after sign-in');
  assert(await page.evaluate(() => !!sessionStorage.getItem('quire.token')), 'token not kept in sessionStorage');
  await page.click('#signout');
  await page.waitForSelector('#signin-form');
  assert(await page.evaluate(() => sessionStorage.getItem('quire.token') === null), 'sign-out left the token behind');
  return page;
});

test('sign-in works with the keyboard alone', async () => {
  const page = await newPage();
  await page.goto('/#/signin');
  await page.waitForSelector('#signin-form');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'token'), 'the token field does not have focus');
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signout');
  await page.waitForFunction(() => document.activeElement && document.activeElement.tagName === 'H1' && /Library/.test(document.activeElement.textContent));
  // The skip link is the first thing Tab reaches and it moves focus to the page.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement && document.activeElement.id);
  if (first === 'skip-link') {
    await page.keyboard.press('Enter');
    assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'main'), 'the skip link did not move focus to the page');
  }
  return page;
});

test('a wrong token shows a readable error', async () => {
  if (!(await has('GET', '/api/v1/me')) && !(await has('GET', '/api/v1/admin/queue/stats'))) skip('the server has no endpoint that checks tokens yet');
  const page = await newPage();
  await page.goto('/#/signin');
  await page.fill('#token', 'qr_this_is_not_a_real_token_0000000000000000');
  await page.click('#signin-btn');
  const err = await page.waitForSelector('#token-err');
  const text = await err.textContent();
  assert(/not accepted/i.test(text), `unexpected message: ${text}`);
  assert(!/[{}]/.test(text), 'raw JSON in the message');
  assert((await page.getAttribute('#token', 'aria-invalid')) === 'true', 'the field is not marked invalid');
  assert(await page.isHidden('#nav'), 'signed in with a wrong token');
  await shot(page, 'signin-error');
  return page;
});

test('errors UI (stubbed answers): a 502 page and a dropped connection are explained in words', async () => {
  const page = await newPage();
  await page.route('**/api/v1/me', (r) => r.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>' }));
  await page.goto('/#/signin');
  await page.fill('#token', ADMIN);
  await page.click('#signin-btn');
  let t = await (await page.waitForSelector('#token-err')).textContent();
  assert(/temporarily unavailable/.test(t) && !/<|nginx/.test(t), `502 shown as: ${t}`);
  await page.unroute('**/api/v1/me');
  await page.route('**/api/v1/me', (r) => r.abort('connectionrefused'));
  await page.click('#signin-btn');
  await page.waitForFunction(() => /could not be reached/.test(document.querySelector('#token-err')?.textContent || ''));
  await page.unroute('**/api/v1/me');
  // A page whose data fails to load says so, in place, and the rest works
  // (sign-in lands on the library).
  const listCall = (u) => u.pathname === '/api/v1/audiobooks' && u.searchParams.has('per_page');
  await page.route(listCall, (r) => r.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'database_unavailable', message: 'the database is not answering', request_id: 'req-123' } }) }));
  await signIn(page);
  t = await (await page.waitForSelector('#book-list .notice.error')).textContent();
  assert(/database is unavailable/.test(t) && /req-123/.test(t) && !/[{}]/.test(t), `503 shown as: ${t}`);
  await shot(page, 'library-error');
  await page.unroute(listCall);
  await page.click('#book-list .notice.error button');
  await page.waitForSelector('#book-list .booklist, #book-list p.muted, #book-list .unavailable');
  page.problems = page.problems.filter((x) => !/ERR_CONNECTION_REFUSED/.test(x));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('every page renders readable, without console errors (desktop and phone)', async () => {
  const pages = [['library', '/#/library'], ['upload', '/#/upload'], ['tts', '/#/tts'], ['admin-queue', '/#/admin/queue'],
    ['admin-workers', '/#/admin/workers'], ['admin-failed', '/#/admin/failed'], ['admin-users', '/#/admin/users'], ['not-found', '/#/nowhere']];
  for (const [vpName, vp] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const page = await newPage(vp);
    await signIn(page);
    for (const [name, url] of pages) {
      await page.goto(url);
      await page.waitForSelector('main h1');
      await page.waitForFunction(() => !document.querySelector('main .loading'), null, { timeout: 15000 }).catch(() => {});
      await page.waitForTimeout(300);
      await assertReadable(page, `${name} (${vpName})`);
      // Every control has a name a screen reader can say.
      const unnamed = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], [role=button], [role=tab]')]
        .filter((el) => el.offsetParent !== null || el.classList.contains('sr-only'))
        .filter((el) => {
          const aria = el.getAttribute('aria-label') || (el.getAttribute('aria-labelledby') || '').split(' ').map((id) => document.getElementById(id)?.textContent || '').join('');
          const label = el.labels && [...el.labels].map((l) => l.textContent).join('');
          return !((aria || '').trim() || (label || '').trim() || (el.textContent || '').trim() || el.getAttribute('title'));
        }).map((el) => el.outerHTML.slice(0, 80)));
      assert(unnamed.length === 0, `${name}: controls without an accessible name: ${unnamed.join(' | ')}`);
      const low = await page.evaluate(lowContrast);
      assert(low.length === 0, `${name}: text below WCAG AA contrast: ${low.slice(0, 5).join(' | ')}`);
      if (vpName === 'phone') {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 1, `${name}: the page is ${overflow}px wider than a phone screen`);
      }
      await shot(page, `${name}-${vpName}`);
    }
    assert(page.problems.length === 0, page.problems.join('; '));
    await page.context().close();
  }
  return null;
});

test('pages say "not available on this server" for missing endpoints', async () => {
  const page = await newPage();
  await signIn(page);
  let checked = 0;
  const cases = [['GET', '/api/v1/search?q=x', '/#/library', async () => { await page.fill('#search-q', 'hello'); await page.click('#search-btn'); }, '#search-results'],
    ['GET', '/api/v1/tts/queue', '/#/tts', null, '#tts-history'],
    ['GET', '/api/v1/admin/queue/stats', '/#/admin/queue', null, '#queue-stats'],
    ['GET', '/api/v1/admin/workers', '/#/admin/workers', null, '#workers']];
  for (const [m, p, url, act, sel] of cases) {
    if (await has(m, p)) continue;
    await page.goto(url);
    await page.waitForSelector(sel, { state: 'attached' });
    if (act) await act();
    await page.waitForSelector(`${sel} .unavailable`);
    const t = await page.textContent(`${sel} .unavailable`);
    assert(/not available on this server/.test(t), `${url}: ${t}`);
    checked += 1;
  }
  if (!checked) skip('every endpoint the pages use exists on this server');
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

async function uploadReady() {
  if (!(await has('POST', '/api/v1/uploads', {}))) skip('the server has no upload endpoint yet (POST /api/v1/uploads)');
  if (!(await has('POST', '/api/v1/uploads/0/tus'))) skip('the server has no tus endpoint yet (/api/v1/uploads/{id}/tus)');
  if (!(await has('POST', '/api/v1/audiobooks', {}))) skip('the server cannot create audiobooks yet (POST /api/v1/audiobooks)');
}

const clip = (n) => path.join(CLIPS, readdirSync(CLIPS).filter((f) => f.endsWith('.wav')).sort()[n]);
let createdBook = null;
let transcribedBook = null;
let twoChapterBook = null; // its jobs get cancelled by the polling test

test('upload a LibriVox clip: progress reaches 100% and the audiobook appears with its jobs', async () => {
  await uploadReady();
  assert(existsSync(CLIPS), `no clips at ${CLIPS}`);
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  // The file chooser opens from the keyboard too (after the router has put
  // focus on the page's heading).
  await page.waitForFunction(() => document.activeElement && document.activeElement.tagName === 'H1' && /Upload/.test(document.activeElement.textContent));
  await page.focus('#choose-files');
  const chooserP = page.waitForEvent('filechooser');
  await page.waitForTimeout(300); // file chooser interception is switched on asynchronously
  await page.keyboard.press('Enter');
  const chooser = await chooserP;
  await chooser.setFiles(clip(0));
  await page.waitForSelector('#filelist li');
  await page.fill('#meta-title', 'Sense and Sensibility (browser test)');
  await page.fill('#meta-author', 'Jane Austen');
  await page.click('#start-upload');
  await page.waitForFunction(() => document.querySelector('#overall')?.dataset.done === 'true', null, { timeout: 30000 });
  const line = await page.textContent('#overall-line');
  await page.waitForTimeout(400); // the bar's width transition
  assert(/100%/.test(line) && /1 of 1 files/.test(line), `overall line: ${line}`);
  await shot(page, 'upload-done');
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  createdBook = decodeURIComponent(page.url().split('#/audiobooks/')[1]);
  await page.waitForSelector('#book-title');
  assert((await page.textContent('#book-title')).includes('Sense and Sensibility'), 'wrong title on the audiobook page');
  await page.waitForSelector('#job-list li[data-type="transcribe"]');
  const types = await page.$$eval('#job-list li', (lis) => lis.map((l) => l.dataset.type));
  assert(types.includes('transcribe'), `jobs: ${types}`);
  await page.waitForTimeout(500);
  await shot(page, 'audiobook-desktop');
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 1, `the audiobook page is ${overflow}px wider than a phone screen`);
  await shot(page, 'audiobook-phone');
  // Edit the details: a bad language is shown on its field, a good one saved.
  await page.setViewportSize(DESKTOP);
  await page.click('#edit-book');
  await page.fill('#edit-language', 'not a language!');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-language-err');
  await page.fill('#edit-language', 'en');
  await page.fill('#edit-title', 'Sense and Sensibility (edited)');
  await page.click('#edit-form button[type=submit]');
  await page.waitForFunction(() => /edited/.test(document.querySelector('#book-title')?.textContent || ''));
  await page.goto('/#/library');
  await page.waitForSelector(`.book[data-id="${createdBook}"]`);
  await shot(page, 'library-with-book');
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('several files by drag and drop become chapters in name order', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  // Drop two clips (in reverse order) on the drop zone, as a person would.
  const files = [clip(4), clip(3)].map((f) => ({ name: path.basename(f), b64: readFileSync(f).toString('base64') }));
  const dt = await page.evaluateHandle((fs) => {
    const d = new DataTransfer();
    for (const f of fs) d.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: 'audio/wav' }));
    return d;
  }, files);
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  await page.waitForSelector('#filelist li:nth-child(2)');
  const order = await page.$$eval('#filelist li', (lis) => lis.map((l) => l.dataset.file));
  assert(order[0] < order[1], `files not in name order: ${order}`);
  await page.fill('#meta-title', 'Two chapters (browser test)');
  await page.click('#start-upload');
  await page.waitForFunction(() => document.querySelector('#overall')?.dataset.done === 'true', null, { timeout: 30000 });
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  twoChapterBook = decodeURIComponent(page.url().split('#/audiobooks/')[1]);
  await page.waitForSelector('#chapter-list li:nth-child(2)');
  const chapters = await page.$$eval('#chapter-list li', (lis) => lis.map((l) => l.textContent));
  assert(chapters.length === 2 && chapters[0].includes(order[0].replace(/\.wav$/, '')), `chapters: ${chapters}`);
  await page.waitForSelector('#job-list li[data-type="transcribe"]:nth-child(2)');
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('a short network drop during an upload is retried by itself', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  await page.evaluate(() => localStorage.setItem('quire.tusChunkBytes', String(32 * 1024)));
  let patches = 0;
  await page.route('**/tus/**', (route) => {
    if (route.request().method() === 'PATCH') { patches += 1; if (patches === 3 || patches === 4) return route.abort('connectionreset'); }
    return route.continue();
  });
  await page.setInputFiles('#file-input', clip(2));
  await page.fill('#meta-title', 'Retry test');
  await page.click('#start-upload');
  await page.waitForFunction(() => document.querySelector('#overall')?.dataset.done === 'true', null, { timeout: 30000 });
  assert(patches >= 5, `only ${patches} PATCH requests`);
  const from = Number(await page.getAttribute('#filelist li', 'data-resumed-from'));
  assert(from >= 2 * 32 * 1024, `went on from byte ${from}, expected at least ${2 * 32 * 1024}`);
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  await page.evaluate(() => localStorage.removeItem('quire.tusChunkBytes'));
  page.problems = page.problems.filter((x) => !/net::ERR_CONNECTION_RESET/.test(x));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('job progress polls while jobs run and stops when all are idle', async () => {
  await uploadReady();
  const book = twoChapterBook;
  if (!book) skip('the two-chapter audiobook was not uploaded in this run');
  const page = await newPage();
  await signIn(page);
  let polls = 0;
  page.on('request', (r) => { if (/\/api\/v1\/audiobooks\/[^/]+\/jobs$/.test(new URL(r.url()).pathname)) polls += 1; });
  await page.goto(`/#/audiobooks/${encodeURIComponent(book)}`);
  await page.waitForSelector('#job-list li');
  const jobs = (await api('GET', `/api/v1/audiobooks/${book}/jobs`)).data.jobs;
  if (!jobs.some((j) => ['waiting', 'pending', 'running'].includes(j.status))) skip('the jobs of the test audiobook are already finished');
  polls = 0;
  await page.waitForTimeout(3200);
  assert(polls >= 2, `only ${polls} polls in 3.2 s while jobs are active`);
  // Cancel every job (dependents first): the page shows it and stops polling.
  for (const j of [...jobs].reverse()) await api('DELETE', `/api/v1/jobs/${j.id}`);
  await page.waitForSelector('#jobs-overall[data-active="false"]', { timeout: 10000 });
  await page.waitForTimeout(500);
  polls = 0;
  await page.waitForTimeout(3500);
  assert(polls === 0, `${polls} polls after every job was idle`);
  const statuses = await page.$$eval('#job-list li', (lis) => lis.map((l) => l.dataset.status));
  assert(statuses.every((x) => x === 'cancelled'), `statuses: ${statuses}`);
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('Pause stops an upload and Resume goes on from there', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  await page.evaluate(() => localStorage.setItem('quire.tusChunkBytes', String(16 * 1024)));
  // Slow chunks, so there is time to press Pause.
  await page.route('**/tus/**', async (route) => { if (route.request().method() === 'PATCH') await new Promise((r) => setTimeout(r, 250)); return route.continue(); });
  await page.setInputFiles('#file-input', clip(3));
  await page.fill('#meta-title', 'Pause test');
  await page.click('#start-upload');
  await page.waitForFunction(() => Number(document.querySelector('#filelist li')?.dataset.percent) >= 20);
  await page.click('#pause-upload');
  await page.waitForSelector('#upload-status .notice.info');
  assert((await page.textContent('#start-upload')).includes('Resume'), 'no Resume button after Pause');
  const paused = Number(await page.getAttribute('#filelist li', 'data-percent'));
  await page.waitForTimeout(800);
  assert(Number(await page.getAttribute('#filelist li', 'data-percent')) === paused, 'the upload went on while paused');
  await page.unroute('**/tus/**');
  await page.click('#start-upload');
  await page.waitForFunction(() => document.querySelector('#overall')?.dataset.done === 'true', null, { timeout: 30000 });
  const from = Number(await page.getAttribute('#filelist li', 'data-resumed-from'));
  assert(from > 0, `resumed from byte ${from}`);
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  await page.evaluate(() => localStorage.removeItem('quire.tusChunkBytes'));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('after a reload, a file the server already has is not sent again', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  // The upload finishes but creating the audiobook fails (a 500 this time).
  await page.route('**/api/v1/audiobooks', (r) => (r.request().method() === 'POST'
    ? r.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal_error', message: 'simulated', request_id: 'x' } }) })
    : r.continue()));
  await page.setInputFiles('#file-input', clip(4));
  await page.fill('#meta-title', 'Nothing twice');
  await page.click('#start-upload');
  await page.waitForSelector('#upload-status .notice.error');
  // As if the page had gone away before it noted the file as done.
  await page.evaluate(() => {
    const p = JSON.parse(localStorage.getItem('quire.pendingUpload'));
    p.files.forEach((f) => { f.done = false; f.url = null; });
    localStorage.setItem('quire.pendingUpload', JSON.stringify(p));
  });
  await page.unroute('**/api/v1/audiobooks');
  await page.reload();
  await page.waitForSelector('#resume-box .notice');
  let tus = 0;
  page.on('request', (r) => { if (/\/tus/.test(r.url())) tus += 1; });
  await page.setInputFiles('#file-input', clip(4));
  await page.click('#start-upload');
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  assert(tus === 0, `${tus} tus requests for a file the server already had`);
  page.problems = page.problems.filter((x) => !/status of 500/.test(x));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('a file that is not audio is refused in words next to it', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  // Not audio by its name: refused in the page before any upload.
  await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await page.waitForSelector('#files-error .notice.error');
  // Named like audio but is text: the server looks at the bytes.
  await page.setInputFiles('#file-input', { name: 'fake.wav', mimeType: 'audio/wav', buffer: Buffer.from('this is plain text, not a RIFF file at all\n'.repeat(50)) });
  await page.fill('#meta-title', 'Not audio');
  await page.click('#start-upload');
  const err = await page.waitForSelector('#filelist li .notice.error');
  const t = await err.textContent();
  assert(/not audio/i.test(t) && !/[{}]/.test(t), `the refusal reads: ${t}`);
  await shot(page, 'upload-not-audio');
  await page.evaluate(() => localStorage.removeItem('quire.pendingUpload'));
  page.problems = page.problems.filter((x) => !/status of 415/.test(x));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('an interrupted upload resumes where it stopped after a reload', async () => {
  await uploadReady();
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/upload');
  await page.evaluate(() => localStorage.setItem('quire.tusChunkBytes', String(32 * 1024)));
  // The network drops after two chunks: later PATCHes fail.
  let patches = 0;
  await page.route('**/tus/**', (route) => {
    if (route.request().method() === 'PATCH' && ++patches > 2) return route.abort('connectionreset');
    return route.continue();
  });
  const file = clip(1);
  await page.setInputFiles('#file-input', file);
  await page.fill('#meta-title', 'Resume test');
  await page.click('#start-upload');
  await page.waitForFunction(() => /retrying/.test(document.querySelector('#filelist li .progline')?.textContent || ''), null, { timeout: 20000 });
  const before = Number(await page.getAttribute('#filelist li', 'data-percent'));
  assert(before > 0 && before < 100, `progress before the drop: ${before}%`);
  // Reload: the page forgets the File; the upload URL is in localStorage.
  await page.unroute('**/tus/**');
  // The dropped PATCHes were logged as network errors: those were ours.
  page.problems = page.problems.filter((x) => !/net::ERR_CONNECTION_RESET/.test(x));
  await page.reload();
  await page.waitForSelector('#resume-box .notice');
  assert((await page.inputValue('#meta-title')) === 'Resume test', 'the form was not kept across the reload');
  await page.setInputFiles('#file-input', file);
  await page.click('#start-upload');
  await page.waitForFunction(() => document.querySelector('#overall')?.dataset.done === 'true', null, { timeout: 30000 });
  const from = Number(await page.getAttribute('#filelist li', 'data-resumed-from'));
  assert(from >= 2 * 32 * 1024, `resumed from byte ${from}, expected at least ${2 * 32 * 1024}`);
  await page.waitForURL(/#\/audiobooks\//, { timeout: 20000 });
  await page.evaluate(() => localStorage.removeItem('quire.tusChunkBytes'));
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

async function workerServes(type) {
  const r = await api('GET', '/api/v1/admin/workers');
  if (r.status !== 200) return false;
  return (r.data.workers || []).some((w) => w.alive !== false && (w.types || []).includes(type));
}

test('transcription, summary, tags and search: real jobs on a real worker, shown on the pages', async () => {
  await uploadReady();
  if (!createdBook) skip('no audiobook was uploaded in this run');
  if (!(await workerServes('transcribe'))) {
    let w = await startWorker('transcribe,summarize,tag,embed', ['--concurrency', '2']);
    if (typeof w === 'string') w = await startWorker('transcribe', ['--concurrency', '2']);
    if (typeof w === 'string') skip(`no worker serves transcribe jobs: ${w}`);
  }
  const page = await newPage();
  await signIn(page);
  await page.goto(`/#/audiobooks/${encodeURIComponent(createdBook)}`);
  // (Other tests' jobs on a shared stack may be ahead in the queue.)
  await page.waitForSelector('#job-list li[data-type="transcribe"][data-status="completed"]', { timeout: 240000 });
  await shot(page, 'audiobook-transcribed');
  await page.waitForSelector('#transcript .w, #transcript-box .unavailable', { timeout: 30000 });
  if (await page.$('#transcript-box .unavailable')) skip('the transcribe job completed, but the server has no transcript endpoint yet (GET /api/v1/audiobooks/{id}/transcript?chapter=N)');
  const words = await page.$$eval('#transcript .w', (ws) => ws.map((w) => w.textContent).join(' '));
  assert(/dashwood|leisure|consider/i.test(words), `the transcript does not look like the clip: ${words.slice(0, 200)}`);
  await page.waitForTimeout(300);
  await shot(page, 'audiobook-transcript');
  // With text workers too: tags and a summary arrive, and search finds the clip.
  if (await workerServes('summarize') && await workerServes('embed')) {
    await page.waitForSelector('#book-tags .tag', { timeout: 90000 });
    await page.waitForSelector('#summary-sentences button', { timeout: 90000 });
    await page.waitForSelector('#jobs-overall[data-active="false"]', { timeout: 90000 });
    await shot(page, 'audiobook-processed');
    await page.goto('/#/library');
    await page.fill('#search-q', 'leisure to consider');
    await page.click('#search-btn');
    await page.waitForSelector('#search-hits li a');
    const hits = await page.$$eval('#search-hits li', (lis) => lis.map((l) => ({ href: l.querySelector('a').getAttribute('href'), text: l.textContent })));
    assert(/leisure|consider/i.test(hits[0].text), `the first hit does not match: ${hits[0].text}`);
    assert(hits.some((x) => x.href.includes(encodeURIComponent(createdBook))), 'the clip\'s audiobook is not among the hits');
    await shot(page, 'search');
  }
  transcribedBook = createdBook;
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('real read-along: the highlighted word moves as the chapter audio plays', async () => {
  if (!transcribedBook) skip('no audiobook was transcribed in this run');
  const page = await newPage();
  await signIn(page);
  await page.goto(`/#/audiobooks/${encodeURIComponent(transcribedBook)}`);
  await page.waitForSelector('#transcript .w', { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#player')?.src || document.querySelector('#audio-msg .unavailable'), null, { timeout: 20000 });
  if (await page.$('#audio-msg .unavailable')) skip('the transcript is there, but the server has no chapter audio endpoint yet (GET /api/v1/audiobooks/{id}/chapters/{n}/audio)');
  await page.evaluate(() => { const a = document.querySelector('#player'); a.muted = true; return a.play(); });
  await page.waitForFunction(() => Number(document.querySelector('#transcript')?.dataset.currentWord) >= 0, null, { timeout: 10000 });
  const w1 = Number(await page.getAttribute('#transcript', 'data-current-word'));
  await page.waitForTimeout(2500);
  const w2 = Number(await page.getAttribute('#transcript', 'data-current-word'));
  assert(w2 > w1, `the highlighted word did not move (${w1} -> ${w2})`);
  await shot(page, 'readalong');
  return page;
});

// The dashboard's own read-along logic, with the transcript and audio answers
// stubbed in the browser (the words of the clip's reference transcription at
// even times). It proves the page, not the server: the test above is the one
// that needs a transcribing worker.
test('read-along UI (stubbed transcript, summary, tags): the highlight follows playback; words and summary sentences seek', async () => {
  await uploadReady();
  const book = createdBook || ((await api('GET', '/api/v1/audiobooks')).data?.audiobooks || [])[0]?.audiobook_id;
  if (!book) skip('no audiobook on this stack');
  const words = 'and mister john dashwood had then leisure to consider how much there might be prudently in his power to do for them'.split(' ');
  const dur = 7.0;
  const step = dur / words.length;
  const ws = words.map((w, i) => ({ word: w, start: +(i * step).toFixed(3), end: +((i + 0.9) * step).toFixed(3) }));
  const transcript = { segments: [{ start: 0, end: dur / 2, text: words.slice(0, 11).join(' '), words: ws.slice(0, 11) },
    { start: ws[11].start, end: dur, text: words.slice(11).join(' '), words: ws.slice(11) }] };
  const page = await newPage();
  await signIn(page);
  await page.route((u) => /\/api\/v1\/audiobooks\/[^/]+\/transcript$/.test(u.pathname) && u.searchParams.get('chapter') === '1',
    (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(transcript) }));
  await page.route('**/api/v1/audiobooks/*/chapters/1/audio', (r) => r.fulfill({ status: 200, contentType: 'audio/wav', path: clip(0) }));
  // The book as the server sends it, plus a summary and tags (the text jobs' output).
  await page.route(`**/api/v1/audiobooks/${book}`, async (r) => {
    const res = await r.fetch();
    const b = await res.json();
    b.summary = { stage: 'final', book: { text: 'how much there might be prudently in his power', sentences: [{ text: 'how much there might be prudently in his power', chapter: 1, start: 3.5, end: 6, score: 0.4 }] },
      chapters: [{ chapter: 1, text: 'how much there might be prudently in his power', sentences: [{ text: 'how much there might be prudently in his power', chapter: 1, start: 3.5, end: 6, score: 0.4 }] }] };
    b.tags = [{ tag: 'dashwood', score: 0.9 }, { tag: 'leisure', score: 0.4 }];
    await r.fulfill({ response: res, json: b });
  });
  await page.goto(`/#/audiobooks/${encodeURIComponent(book)}`);
  await page.waitForSelector('#book-tags .tag');
  assert((await page.$$eval('#book-tags .tag', (t) => t.map((x) => x.textContent))).join() === 'dashwood,leisure', 'tags not shown');
  await page.waitForSelector('#transcript .w');
  assert((await page.$$('#transcript .w')).length === words.length, 'not every word was rendered');
  await page.waitForFunction(() => document.querySelector('#player')?.readyState >= 1, null, { timeout: 10000 });
  await page.evaluate(() => { const a = document.querySelector('#player'); a.muted = true; return a.play(); });
  await page.waitForFunction(() => Number(document.querySelector('#transcript')?.dataset.currentWord) >= 1, null, { timeout: 10000 });
  const w1 = Number(await page.getAttribute('#transcript', 'data-current-word'));
  await page.waitForTimeout(1500);
  const w2 = Number(await page.getAttribute('#transcript', 'data-current-word'));
  assert(w2 > w1, `the highlighted word did not move while playing (${w1} -> ${w2})`);
  assert((await page.$$('#transcript .w.current')).length === 1, 'not exactly one highlighted word');
  await shot(page, 'readalong-stub');
  // Click a late word: the player seeks to it and it is highlighted.
  await page.evaluate(() => document.querySelector('#player').pause());
  await page.click('#transcript .w >> nth=20');
  await page.waitForFunction(() => document.querySelector('#transcript')?.dataset.currentWord === '20', null, { timeout: 5000 });
  const t = await page.evaluate(() => document.querySelector('#player').currentTime);
  assert(Math.abs(t - ws[20].start) < 0.3 || t >= ws[20].start, `seeked to ${t}, expected about ${ws[20].start}`);
  // A summary sentence plays from its time.
  await page.evaluate(() => document.querySelector('#player').pause());
  await page.click('#summary-sentences button');
  await page.waitForFunction(() => Math.abs(document.querySelector('#player').currentTime - 3.5) < 0.6, null, { timeout: 5000 });
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('search UI (stubbed answers): results open the audiobook at the moment', async () => {
  await uploadReady();
  const book = createdBook || ((await api('GET', '/api/v1/audiobooks')).data?.audiobooks || [])[0]?.audiobook_id;
  if (!book) skip('no audiobook on this stack');
  const page = await newPage();
  await signIn(page);
  await page.route('**/api/v1/search?*', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({
    query: 'dashwood', results: [{ audiobook_id: book, audiobook_title: 'Sense and Sensibility', chapter: 1, start: 4.2, end: 7.0, score: 0.83, text: 'mister john dashwood had then leisure' }] }) }));
  await page.route('**/api/v1/audiobooks/*/chapters/1/audio', (r) => r.fulfill({ status: 200, contentType: 'audio/wav', path: clip(0) }));
  await page.goto('/#/library');
  await page.fill('#search-q', 'dashwood');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#search-hits li a');
  assert(/at 0:04/.test(await page.textContent('#search-hits li a')), 'the result does not say its time');
  await shot(page, 'search-stub');
  await page.click('#search-hits li a');
  await page.waitForSelector('#book-title');
  await page.waitForFunction(() => Math.abs((document.querySelector('#player')?.currentTime || 0) - 4.2) < 0.5, null, { timeout: 10000 });
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('text to speech UI (stubbed answers): submit, chapter progress, play and download', async () => {
  const page = await newPage();
  await signIn(page);
  let polls = 0;
  let posted = null;
  await page.route('**/api/v1/voices', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ engines: [{ name: 'flite', voices: [{ id: 'slt', language: 'en' }, { id: 'kal', language: 'en' }] }, { name: 'espeak-ng', voices: [{ id: 'hi', language: 'hi' }] }] }) }));
  await page.route('**/api/v1/tts/queue?*', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ jobs: [] }) }));
  await page.route('**/api/v1/tts/queue', (r) => { posted = r.request().postDataJSON(); return r.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ job_id: 'stub1', status: 'queued', status_url: '/api/v1/tts/queue/stub1' }) }); });
  await page.route('**/api/v1/tts/queue/stub1', (r) => {
    polls += 1;
    const done = polls >= 3;
    return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({
      job_id: 'stub1', status: done ? 'completed' : 'processing', progress_percent: done ? 100 : 50, progress_message: done ? 'done' : 'chapter 2 of 2',
      current_chapter: done ? 2 : 2, total_chapters: 2, error: null, audio_url: '/api/v1/tts/queue/stub1/audio',
      chapters: [{ title: 'One', status: 'completed', progress_percent: 100 }, { title: 'Two', status: done ? 'completed' : 'processing', progress_percent: done ? 100 : 10 }] }) });
  });
  await page.route('**/api/v1/tts/queue/stub1/audio', (r) => r.fulfill({ status: 200, contentType: 'audio/wav', path: clip(1) }));
  await page.goto('/#/tts');
  await page.waitForSelector('#tts-voice option[value="kal"]', { state: 'attached' });
  await page.check('#mode-book');
  await page.fill('#tts-title', 'A tiny book');
  await page.fill('#tts-chapters textarea', 'The first chapter.');
  await page.click('#add-chapter');
  await page.fill('#tts-chapters .chapter-edit:nth-child(2) textarea', 'The second chapter.');
  await page.selectOption('#tts-format', 'm4b');
  await page.click('#tts-submit');
  await page.waitForURL(/#\/tts\/stub1/);
  await page.waitForSelector('#tts-chapter-progress li:nth-child(2)');
  await page.waitForSelector('#tts-audio', { timeout: 15000 });
  assert(posted && posted.chapters.length === 2 && posted.voice_settings.engine === 'flite' && posted.format === 'm4b', `posted: ${JSON.stringify(posted)}`);
  await page.waitForTimeout(300);
  await shot(page, 'tts-stub');
  const dl = page.waitForEvent('download');
  await page.click('#tts-download');
  const d = await dl;
  assert(/^speech-stub1\./.test(d.suggestedFilename()), `download named ${d.suggestedFilename()}`);
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('text to speech UI (stubbed answers): a 422 is shown on the field it names', async () => {
  const page = await newPage();
  await signIn(page);
  await page.route('**/api/v1/tts/queue?*', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: '{"jobs":[]}' }));
  await page.route('**/api/v1/tts/queue', (r) => r.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify({ error: { code: 'validation_failed', message: "field 'voice_settings.speed' must be between 0.5 and 2.0", request_id: 'abc' } }) }));
  await page.goto('/#/tts');
  await page.fill('#tts-script', 'Hello.');
  await page.click('#tts-submit');
  const err = await page.waitForSelector('#tts-speed-err');
  assert(/between 0\.5 and 2\.0/.test(await err.textContent()), 'the speed error is not on the speed field');
  return page;
});

test('text to speech: submit a request and get audio', async () => {
  if (!(await has('GET', '/api/v1/tts/queue'))) skip('the server has no text-to-speech endpoint yet (/api/v1/tts/queue)');
  if (!(await workerServes('tts'))) {
    const w = await startWorker('tts,assemble');
    if (typeof w === 'string') skip(`no worker serves tts jobs: ${w}`);
  }
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/tts');
  await page.fill('#tts-script', 'Hello from quire. This is a short test of speech synthesis.');
  await page.click('#tts-submit');
  await page.waitForURL(/#\/tts\/.+/);
  await page.waitForSelector('#tts-audio', { timeout: 120000 });
  await shot(page, 'tts-done');
  return page;
});

test('admin page shows queue statistics, the chart and the workers', async () => {
  if (!(await has('GET', '/api/v1/admin/queue/stats'))) skip('the server has no queue statistics yet (/api/v1/admin/queue/stats)');
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/admin/queue');
  await page.waitForSelector('#stats-table, #no-jobs');
  await page.waitForSelector('#queue-svg');
  if (await page.$('#stats-table')) {
    const rows = await page.$$eval('#stats-table tbody tr', (trs) => trs.map((t) => t.dataset.type));
    assert(rows.length > 0, 'the stats table has no rows');
  }
  await shot(page, 'admin-queue-desktop');
  if (await has('GET', '/api/v1/admin/workers')) {
    await page.click('#tab-workers');
    await page.waitForSelector('#workers-table, #no-workers');
    await shot(page, 'admin-workers-desktop');
  }
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('workers UI (stubbed answers): heartbeat age, jobs in hand, stale workers marked', async () => {
  const page = await newPage();
  await signIn(page);
  if (!(await page.isVisible('[data-nav="admin"]'))) skip('this token is not an admin here');
  const now = Date.now();
  const iso = (ago) => new Date(now - ago * 1000).toISOString();
  await page.route('**/api/v1/admin/workers', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ total: 2, online: 1, workers: [
    { id: 'gpu-1', hostname: 'gpu-host', types: ['transcribe', 'embed'], gpu: 'RTX 4090', status: 'online', alive: true, concurrency: 4, current_jobs: 3, jobs_completed: 120, jobs_failed: 2, stats: { transcribe: 41.5 }, last_heartbeat: iso(3) },
    { id: 'cpu-7', hostname: 'cpu-host', types: ['tts'], gpu: 'none', status: 'online', alive: false, concurrency: 2, current_jobs: 1, jobs_completed: 9, jobs_failed: 0, stats: null, last_heartbeat: iso(300) }] }) }));
  await page.goto('/#/admin/workers');
  await page.waitForSelector('#workers-table');
  const stale = await page.$$eval('#workers-table tbody tr', (trs) => trs.map((t) => `${t.dataset.worker}:${t.dataset.stale}`));
  assert(stale.join() === 'gpu-1:false,cpu-7:true', `stale marks: ${stale}`);
  const row = await page.textContent('#workers-table tr[data-worker="gpu-1"]');
  assert(/3 \/ 4/.test(row) && /RTX 4090/.test(row) && /transcribe 4\d s/.test(row), `worker row: ${row}`);
  assert(/stale/.test(await page.textContent('#workers-table tr[data-worker="cpu-7"]')), 'the stale worker is not marked');
  await shot(page, 'admin-workers-stub');
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

test('admin sees a failed job with its attempts, retries it, cancels the retry', async () => {
  if (!(await has('GET', '/api/v1/jobs')) || !(await has('POST', '/api/v1/jobs/0/retry'))) skip('the server has no job list or retry yet (/api/v1/jobs)');
  const id = await makeFailedJob();
  if (!/^\d+$/.test(id)) skip(id);
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/admin/failed');
  await page.waitForSelector(`#failed-list li[data-job-id="${id}"]`);
  const attempts = await page.textContent(`#failed-list li[data-job-id="${id}"]`);
  assert(/failing on purpose/.test(attempts), `the attempt's error is not shown: ${attempts.slice(0, 300)}`);
  await shot(page, 'admin-failed');
  await page.click(`#failed-list li[data-job-id="${id}"] button[data-action="retry"]`);
  await page.waitForSelector(`#failed-list li[data-job-id="${id}"] .notice.ok`);
  const j = await api('GET', `/api/v1/jobs/${id}`);
  assert(j.data && ['pending', 'waiting'].includes(j.data.status), `job ${id} is ${j.data && j.data.status} after Retry, expected pending`);
  await shot(page, 'admin-failed-retried');
  await page.click(`#failed-list li[data-job-id="${id}"] button[data-action="cancel"]`);
  await page.waitForSelector(`#failed-list li[data-job-id="${id}"] .badge.cancelled`);
  const c = await api('GET', `/api/v1/jobs/${id}`);
  assert(c.data && c.data.status === 'cancelled', `job ${id} is ${c.data && c.data.status} after Cancel`);
  // The filter: cancelled jobs of this type list it.
  await page.selectOption('#jobs-status', 'cancelled');
  await page.fill('#jobs-type', 'noop.browser');
  await page.waitForSelector(`#failed-list li[data-job-id="${id}"] button[data-action="retry"]`);
  return page;
});

let userToken = null;
async function makeUser() {
  if (userToken) return userToken;
  const name = `browser-${Date.now().toString(36)}`;
  if (await has('GET', '/api/v1/admin/users')) {
    const r = await api('POST', '/api/v1/admin/users', { json: { name, role: 'user' } });
    if (r.status === 201 && r.data.token) { userToken = r.data.token; return userToken; }
  }
  const bin = process.env.QUIRE_BIN;
  if (bin && existsSync(path.join(bin, 'quirectl'))) {
    const out = execFileSync(path.join(bin, 'quirectl'), ['user', 'add', name], { encoding: 'utf8' }).trim().split('\n').pop().trim();
    if (/^qr_/.test(out)) { userToken = out; return userToken; }
  }
  return null;
}

test('a regular user sees no admin page', async () => {
  if (!(await has('GET', '/api/v1/me')) && !(await has('GET', '/api/v1/admin/queue/stats'))) skip('the server cannot tell users from admins yet');
  const tok = await makeUser();
  if (!tok) skip('cannot create a user here (no admin users endpoint, no QUIRE_BIN)');
  const page = await newPage();
  await signIn(page, tok);
  assert(await page.isHidden('[data-nav="admin"]'), 'the Admin link shows for a user');
  await page.goto('/#/admin/queue');
  await page.waitForSelector('main .notice');
  const t = await page.textContent('main');
  assert(/for administrators/.test(t), `admin page for a user says: ${t.slice(0, 200)}`);
  assert(!(await page.$('#stats-table')), 'a user sees the stats');
  await shot(page, 'user-no-admin');
  return page;
});

test('another user reads a public audiobook: no Edit, no Delete, no jobs', async () => {
  if (!createdBook) skip('no audiobook was uploaded in this run');
  const tok = await makeUser();
  if (!tok) skip('cannot create a user here (no admin users endpoint, no QUIRE_BIN)');
  const base = `/api/v1/audiobooks/${createdBook}`;
  const put = await api('PUT', base, { json: { is_public: true } });
  assert(put.status === 200, `making the audiobook public: ${put.status}`);
  try {
    const page = await newPage();
    await signIn(page, tok);
    await page.goto(`/#/audiobooks/${encodeURIComponent(createdBook)}`);
    await page.waitForSelector('#book-title');
    await page.waitForSelector('#jobs-owner-only');
    assert(!(await page.$('#edit-book')) && !(await page.$('#delete-book')), 'Edit or Delete shows on another user\'s audiobook');
    await assertReadable(page, 'a public audiobook of another user');
    await shot(page, 'public-book-reader');
    assert(page.problems.length === 0, page.problems.join('; '));
    return page;
  } finally {
    await api('PUT', base, { json: { is_public: false } });
  }
});

test('a token revoked while signed in returns the page to sign-in with a message', async () => {
  if (!(await has('GET', '/api/v1/admin/users'))) skip('the server has no user management yet (/api/v1/admin/users)');
  const r = await api('POST', '/api/v1/admin/users', { json: { name: `revoke-${Date.now().toString(36)}`, role: 'user' } });
  assert(r.status === 201, `user not created: ${r.status}`);
  const page = await newPage();
  await signIn(page, r.data.token);
  await page.goto('/#/library');
  await page.waitForSelector('#book-list');
  const rv = await api('DELETE', `/api/v1/admin/tokens/${r.data.token_id}`);
  assert(rv.status === 200, `revoke answered ${rv.status}`);
  await page.goto('/#/upload');
  await page.goto('/#/library');
  await page.waitForSelector('#signin-form');
  assert(/no longer accepted/.test(await page.textContent('#signin-form')), 'no message about the revoked token');
  assert(await page.evaluate(() => sessionStorage.getItem('quire.token') === null), 'the revoked token is still kept');
  return page;
});

test('admin can create a user and sees the token once', async () => {
  if (!(await has('GET', '/api/v1/admin/users'))) skip('the server has no user management yet (/api/v1/admin/users)');
  const page = await newPage();
  await signIn(page);
  await page.goto('/#/admin/users');
  await page.waitForSelector('#user-list');
  const name = `ui-${Date.now().toString(36)}`;
  await page.fill('#new-user-name', name);
  await page.click('#new-user-form button[type=submit]');
  await page.waitForSelector('#token-once');
  assert(/^qr_/.test((await page.textContent('#token-once')).trim()), 'no token shown');
  await page.waitForSelector(`#user-list li[data-user="${name}"]`);
  await shot(page, 'admin-users');
  assert(page.problems.length === 0, page.problems.join('; '));
  return page;
});

// ---- runner -------------------------------------------------------------------
let passed = 0, failed = 0, skipped = 0;
for (const t of tests) {
  if (FILTER && !t.name.includes(FILTER)) continue;
  const started = Date.now();
  let page = null;
  try {
    page = await t.fn();
    if (page && page.problems && page.problems.length) throw new Error(page.problems.join('; '));
    passed += 1;
    console.log(`ok   ${t.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    if (e instanceof Skip) {
      skipped += 1;
      console.log(`skip ${t.name}: ${e.message}`);
    } else {
      failed += 1;
      console.log(`FAIL ${t.name}: ${String(e && e.message || e).split('\n')[0]}`);
      if (e && e.stack) console.error(e.stack);
    }
  } finally {
    if (page && page.context) await page.context().close().catch(() => {});
  }
}
await browser.close();
stopWorkers();
console.log(`screenshots: ${OUT}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);

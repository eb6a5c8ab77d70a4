// ui.mjs - small DOM and formatting helpers shared by every page: element
// creation without innerHTML (server text never becomes markup), number and
// time formatting, progress bars, status badges and the error/notice boxes
// that turn API failures into plain words.
import { ApiError } from './api.mjs';

// h('div', {class: 'x', onclick: fn}, child, 'text', [more]) -> element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
export function replace(el, ...children) { clear(el); append(el, children); return el; }

let uid = 0;
export function newId(prefix = 'q') { uid += 1; return `${prefix}-${uid}`; }

// Screen-reader announcement through the page's polite live region.
export function announce(text) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 30);
}

// ---- formatting -----------------------------------------------------------
export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(+n)) return '—';
  n = +n;
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i += 1; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${u[i]}`;
}

export function fmtSpeed(bps) {
  if (!bps || !Number.isFinite(bps)) return '—';
  return `${fmtBytes(bps)}/s`;
}

// Seconds -> "1:02:03" or "2:03"; null -> "—".
export function fmtClock(s) {
  if (s === null || s === undefined || !Number.isFinite(+s)) return '—';
  s = Math.max(0, Math.floor(+s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (x) => String(x).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

// Seconds -> "3 h 5 min", "4 min 10 s", "12 s".
export function fmtDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(+s)) return '—';
  s = Math.round(+s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function fmtEta(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 1) return 'less than a second';
  return fmtDuration(s);
}

export function parseTime(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return new Date(t > 1e12 ? t : t * 1000);
  // "2026-11-23 15:49:20.123" (MariaDB) or ISO; both read as UTC when no zone.
  let s = String(t).trim().replace(' ', 'T');
  if (!/[zZ]|[+-]\d\d:?\d\d$/.test(s)) s += 'Z';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function fmtWhen(t) {
  const d = parseTime(t);
  if (!d) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtAgo(t, now = Date.now()) {
  const d = parseTime(t);
  if (!d) return '—';
  return `${fmtDuration(Math.max(0, (now - d.getTime()) / 1000))} ago`;
}

export function pct(x) {
  if (x === null || x === undefined || !Number.isFinite(+x)) return '—';
  return `${Math.round(+x)}%`;
}

// ---- widgets ---------------------------------------------------------------
// A labelled progress bar; update with bar.set(percent, {done, failed, text}).
export function progressBar(label) {
  const fill = h('div', { class: 'fill' });
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 }, fill);
  bar.set = (percent, opts = {}) => {
    const p = Math.max(0, Math.min(100, Number(percent) || 0));
    fill.style.width = `${p}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(p)));
    if (opts.text) bar.setAttribute('aria-valuetext', opts.text); else bar.removeAttribute('aria-valuetext');
    bar.classList.toggle('done', !!opts.done);
    bar.classList.toggle('failed', !!opts.failed);
    bar.classList.toggle('indeterminate', !!opts.indeterminate);
  };
  return bar;
}

export function badge(status, text) {
  const s = String(status || 'unknown').toLowerCase();
  return h('span', { class: `badge ${s.replace(/[^a-z_-]/g, '')}` }, text || s);
}

export function notice(kind, title, ...detail) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    title ? h('p', { class: 'title' }, title) : null,
    detail.filter(Boolean).map((d) => (d instanceof Node ? d : h('p', { class: 'detail' }, d))));
}

// "Not available on this server": the endpoint behind a feature is missing.
export function unavailableBox(feature, err) {
  return h('div', { class: 'unavailable', role: 'status' },
    h('strong', null, `${feature} is not available on this server.`), ' ',
    'This quire server does not offer it yet',
    err && err.path ? h('span', null, ' (', h('code', null, String(err.path).split('?')[0]), ')') : null,
    '. The rest of the dashboard keeps working.');
}

// Turns any error into a box of plain words. `doing` says what failed
// ("Could not load the library"). Never shows raw JSON.
// `feature` names the feature for the "not available on this server" case.
// `retry`, when given, adds a "Try again" button that calls it.
export function errorBox(err, doing, feature = 'This feature', retry = null) {
  if (err instanceof ApiError && err.unavailable) return unavailableBox(feature, err);
  const { lead, detail, requestId } = explain(err);
  const again = retry && !(err instanceof ApiError && [401, 403, 404].includes(err.status))
    ? h('p', null, h('button', { type: 'button', class: 'small secondary', onclick: (ev) => { ev.currentTarget.disabled = true; retry(); } }, 'Try again')) : null;
  return h('div', { class: 'notice error', role: 'alert' },
    h('p', { class: 'title' }, doing ? `${doing}: ${lead}` : lead),
    detail ? h('p', { class: 'detail' }, detail) : null,
    requestId ? h('p', { class: 'reqid' }, `Reference for the administrator: ${requestId}`) : null,
    again);
}

// Plain words for an error: {lead, detail, requestId}.
export function explain(err) {
  if (!(err instanceof ApiError)) {
    return { lead: 'something went wrong in the page.', detail: err && err.message ? String(err.message) : null };
  }
  const serverMsg = err.serverMessage ? sentence(err.serverMessage) : null;
  const leads = {
    network: 'the server could not be reached. Check your connection and try again.',
    unauthorized: 'the token was not accepted. It may be mistyped, revoked or expired.',
    forbidden: 'this needs an administrator’s token.',
    not_found: 'it was not found. It may have been deleted, or it belongs to another account.',
    method_not_allowed: 'this server does not allow that action here.',
    conflict: 'it is not ready or is in a conflicting state.',
    payload_too_large: 'the file or request is larger than the server accepts.',
    unsupported_media_type: 'the server does not accept this kind of file.',
    validation_failed: 'some of the values were not accepted.',
    invalid_request: 'the server could not understand the request.',
    rate_limited: 'too many requests in a short time. Wait a moment and try again.',
    precondition_failed: 'the server refused the request’s protocol version.',
    database_unavailable: 'the server’s database is unavailable right now. Try again shortly.',
    database_error: 'the server’s database had a problem. Try again shortly.',
    unavailable: 'the service is temporarily unavailable. Try again shortly.',
    insufficient_storage: 'the server is out of storage space.',
    timeout: 'the server took too long to answer.',
    bad_response: 'the server sent an answer the page could not read.',
  };
  let lead = leads[err.code];
  if (!lead) lead = err.status >= 500 ? 'the server had a problem handling this.' : 'the server refused the request.';
  // Where the server's own message is more precise (validation names the field), show it.
  const detail = serverMsg && !sameWords(serverMsg, lead) ? `The server said: ${serverMsg}` : null;
  return { lead, detail, requestId: err.requestId };
}

function sentence(s) {
  s = String(s).trim();
  if (!s) return s;
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
function sameWords(a, b) { return a.toLowerCase().replace(/\W/g, '') === b.toLowerCase().replace(/\W/g, ''); }

// Attaches an error message to a form control: aria-invalid + described-by.
export function fieldError(input, message) {
  const id = `${input.id || newId('f')}-err`;
  let el = document.getElementById(id);
  if (!message) {
    input.removeAttribute('aria-invalid');
    if (el) el.remove();
    return;
  }
  if (!el) {
    el = h('p', { id, class: 'field-error' });
    input.insertAdjacentElement('afterend', el);
  }
  el.textContent = message;
  input.setAttribute('aria-invalid', 'true');
  const ids = new Set((input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
  ids.add(id);
  input.setAttribute('aria-describedby', [...ids].join(' '));
}

// A labelled field: returns {wrap, input}.
export function field(label, input, hint) {
  if (!input.id) input.id = newId('f');
  const hintEl = hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const wrap = h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
  return { wrap, input };
}

// Saves a Blob as a file through a temporary link.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 4000);
}

// Runs fn every `ms` until stop() is called or fn returns false; never
// overlaps two runs; pauses while the tab is hidden.
export function poller(fn, ms) {
  let timer = null, stopped = false, running = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (document.hidden) { timer = setTimeout(tick, ms); return; }
    running = true;
    let again = true;
    try { again = (await fn()) !== false; } catch (e) { again = true; }
    running = false;
    if (!stopped && again) timer = setTimeout(tick, ms);
  };
  const p = {
    start(now = true) { stopped = false; if (!timer && !running) timer = setTimeout(tick, now ? 0 : ms); return p; },
    stop() { stopped = true; if (timer) clearTimeout(timer); timer = null; },
    get active() { return !stopped && (timer !== null || running); },
  };
  return p;
}

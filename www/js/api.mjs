// api.mjs - the only code that talks to quire's HTTP API. Adds the bearer
// token, parses JSON, and turns every failure (HTTP error, network drop, a
// non-JSON answer) into an ApiError with a code the pages can explain.
// An endpoint this server does not have (404 "no endpoint ..." or 405 from the
// router) is marked `unavailable` so pages can say so instead of breaking.

const TOKEN_KEY = 'quire.token';
const WHO_KEY = 'quire.who';

export class ApiError extends Error {
  constructor({ status = 0, code = 'internal_error', message = '', requestId = null, path = '', unavailable = false }) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = message;
    this.requestId = requestId;
    this.path = path;
    this.unavailable = unavailable;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  get who() {
    try { return JSON.parse(sessionStorage.getItem(WHO_KEY) || 'null'); } catch { return null; }
  },
  set(token, who) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(WHO_KEY, JSON.stringify(who || {}));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(WHO_KEY);
  },
  get isAdmin() { const w = this.who; return !!(w && w.role === 'admin'); },
};

const CODE_BY_STATUS = {
  400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  409: 'conflict', 412: 'precondition_failed', 413: 'payload_too_large', 415: 'unsupported_media_type',
  422: 'validation_failed', 429: 'rate_limited', 502: 'unavailable', 503: 'unavailable', 504: 'timeout',
};

function isUnavailable(status, code, message) {
  if (status === 501) return true;
  if (status === 404 && /^no endpoint\b/i.test(message || '')) return true;
  if (status === 405 && /is not allowed on/i.test(message || '')) return true;
  return false;
}

// Reads an error reply: quire's JSON shape, or anything else (an nginx HTML
// page, an empty body) described by its status.
export async function errorFrom(res, path) {
  let code = CODE_BY_STATUS[res.status] || (res.status >= 500 ? 'internal_error' : 'invalid_request');
  let message = '';
  let requestId = res.headers.get('X-Request-Id');
  try {
    const text = await res.text();
    const j = text ? JSON.parse(text) : null;
    const e = j && (j.error || j);
    if (e && typeof e === 'object') {
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
      else if (typeof j.error === 'string') message = j.error;
      if (e.request_id) requestId = e.request_id;
    }
  } catch { /* not JSON: keep the status-derived code */ }
  if (!message && res.status === 502) message = 'The API process behind the web server is not answering (502).';
  return new ApiError({ status: res.status, code, message, requestId, path, unavailable: isUnavailable(res.status, code, message) });
}

// The server's clock, from the Date header of its answers (1 s resolution),
// so ages such as "heartbeat 5 s ago" do not depend on this computer's clock.
let skewMs = 0;
function noteServerTime(res) {
  const d = Date.parse(res.headers.get('Date') || '');
  if (Number.isFinite(d)) skewMs = d + 500 - Date.now();
}
export function serverNow() { return Date.now() + (Math.abs(skewMs) > 2000 ? skewMs : 0); }

const listeners = new Set();
// Called with the ApiError when a signed-in request gets 401 (token revoked).
export function onUnauthorized(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// request(path, {method, json, body, headers, token, signal, raw, quiet401})
// -> parsed JSON (or null for an empty body), or the Response when raw.
export async function request(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  const token = opts.token !== undefined ? opts.token : session.token;
  if (token) headers.set('Authorization', `Bearer ${token}`);
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(opts.json);
  }
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  let res;
  try {
    res = await fetch(path, { method: opts.method || 'GET', headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError({ status: 0, code: 'network', message: '', path });
  }
  noteServerTime(res);
  if (!res.ok) {
    const err = await errorFrom(res, path);
    if (res.status === 401 && !opts.quiet401 && token) listeners.forEach((fn) => fn(err));
    throw err;
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch {
    throw new ApiError({ status: res.status, code: 'bad_response', message: 'The answer was not JSON.', path });
  }
}

export const get = (path, o) => request(path, { ...o, method: 'GET' });
export const post = (path, json, o) => request(path, { ...o, method: 'POST', json });
export const put = (path, json, o) => request(path, { ...o, method: 'PUT', json });
export const del = (path, o) => request(path, { ...o, method: 'DELETE' });

// Fetches a protected file as a Blob (audio, subtitles): <audio src> and plain
// links cannot send the bearer token. onProgress(loaded, total).
export async function blob(path, { onProgress, signal } = {}) {
  const res = await request(path, { raw: true, signal, headers: { Accept: '*/*' } });
  const total = Number(res.headers.get('Content-Length')) || 0;
  if (!onProgress || !res.body) return res.blob();
  const reader = res.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress(loaded, total);
  }
  return new Blob(parts, { type: res.headers.get('Content-Type') || 'application/octet-stream' });
}

// Who holds this token? Tries the endpoints this server may have, in order,
// and reads the answer: {verified, role, name}. Throws ApiError 401 for a bad
// token. Unverified means no endpoint here checks tokens yet.
export async function whoami(token) {
  const o = { token, quiet401: true };
  for (const path of ['/api/v1/me', '/api/v1/auth/me', '/api/v1/whoami']) {
    try {
      const me = await get(path, o);
      const u = (me && (me.user || me)) || {};
      return { verified: true, role: u.role || 'user', name: u.name || u.username || '', id: u.id ?? u.user_id ?? null, token_id: u.token_id ?? null };
    } catch (e) {
      if (!(e instanceof ApiError) || !e.unavailable) throw e;
    }
  }
  let known = null;
  try {
    await get('/api/v1/admin/queue/stats', o);
    return { verified: true, role: 'admin', name: '' };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 403) known = 'user';
    else if (!e.unavailable) throw e;
  }
  for (const path of ['/api/v1/jobs?limit=1', '/api/v1/audiobooks?limit=1', '/api/v1/uploads']) {
    try {
      await get(path, o);
      return { verified: true, role: known || 'user', name: '' };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 403) return { verified: true, role: known || 'user', name: '' };
      if (!e.unavailable) throw e;
    }
  }
  if (known) return { verified: true, role: known, name: '' };
  return { verified: false, role: 'unknown', name: '' };
}

// ---- lenient readers of response shapes ---------------------------------
// The API is young: accept the documented field first and the obvious
// alternatives after it, so one renamed field does not blank a page.
export function pick(o, ...keys) {
  if (!o || typeof o !== 'object') return undefined;
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

export function listIn(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const k of [...keys, 'items', 'data', 'results']) if (data && Array.isArray(data[k])) return data[k];
  return [];
}

export function seconds(o, ...keys) {
  const v = pick(o, ...keys, 'duration_seconds', 'duration_s', 'duration');
  if (v !== undefined && Number.isFinite(+v)) return +v;
  const ms = pick(o, 'duration_ms');
  return ms !== undefined && Number.isFinite(+ms) ? +ms / 1000 : null;
}

// Tags as [{name, score}] from ["a", "b"] or [{tag|name|text, score}].
export function tagsOf(o) {
  const t = pick(o, 'tags', 'keyphrases');
  if (!Array.isArray(t)) return [];
  return t.map((x) => (typeof x === 'string' ? { name: x, score: null } : { name: String(pick(x, 'tag', 'name', 'text', 'phrase') ?? ''), score: pick(x, 'score') ?? null })).filter((x) => x.name);
}

// Percent 0..100 from progress given as 0..1 (fraction=true), 0..100, or
// {percent}; a completed job is always 100.
export function percentOf(p, status, fraction = false) {
  if (status === 'completed') return 100;
  if (p && typeof p === 'object') { p = pick(p, 'percent', 'progress_percent', 'value'); fraction = false; }
  let v = Number(p);
  if (!Number.isFinite(v)) v = 0;
  if (fraction || (v > 0 && v < 1)) v *= 100;
  return Math.max(0, Math.min(100, v));
}

export const ACTIVE = new Set(['waiting', 'pending', 'running', 'queued', 'processing', 'uploading']);

// tus.mjs - a small tus 1.0 client (core + creation) for one file: creates
// the file slot with POST, sends the file in chunks with PATCH (XMLHttpRequest,
// for upload progress events), asks HEAD for the offset to resume after a
// drop, a 409 or a page reload, and retries network and server errors with
// backoff. Reports bytes, speed (over the last few seconds) and time left.
import { ApiError, errorFrom } from './api.mjs';

export const TUS_VERSION = '1.0.0';
const DEFAULT_CHUNK = 8 * 1024 * 1024;
const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

// Chunk size: 8 MiB, or localStorage 'quire.tusChunkBytes' (tests make it small).
export function chunkSize() {
  const v = Number(localStorage.getItem('quire.tusChunkBytes'));
  return Number.isFinite(v) && v >= 1024 ? Math.floor(v) : DEFAULT_CHUNK;
}

export class PausedError extends Error {
  constructor() { super('paused'); this.name = 'PausedError'; }
}

function b64(s) { return btoa(unescape(encodeURIComponent(s))); }
const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

export class TusUpload {
  // endpoint: '/api/v1/uploads/{id}/tus'; url: a slot URL saved earlier, to resume.
  constructor({ endpoint, file, token, url = null, onProgress = () => {}, onState = () => {}, onUrl = () => {} }) {
    Object.assign(this, { endpoint, file, token, url, onProgress, onState, onUrl });
    this.offset = 0;
    this.resumedFrom = null;
    this.samples = [];
    this.xhr = null;
    this.abort = null;
    this.state = 'idle';
  }

  get speed() {
    const s = this.samples;
    if (s.length < 2) return 0;
    const dt = (s[s.length - 1].t - s[0].t) / 1000;
    return dt > 0.2 ? (s[s.length - 1].b - s[0].b) / dt : 0;
  }

  get eta() {
    const sp = this.speed;
    return sp > 0 ? (this.file.size - this.offset) / sp : null;
  }

  _setState(st, info) { this.state = st; this.onState(st, info); }

  _progress(bytes) {
    const now = performance.now();
    this.offset = Math.max(0, Math.min(bytes, this.file.size));
    this.samples.push({ t: now, b: this.offset });
    while (this.samples.length > 2 && now - this.samples[0].t > 5000) this.samples.shift();
    this.onProgress(this.offset, this.file.size);
  }

  _headers(extra) {
    const hd = { 'Tus-Resumable': TUS_VERSION, ...extra };
    if (this.token) hd.Authorization = `Bearer ${this.token}`;
    return hd;
  }

  async _fetch(url, init) {
    try {
      return await fetch(url, { ...init, cache: 'no-store', signal: this.abort.signal });
    } catch (e) {
      if (this.abort.signal.aborted) throw new PausedError();
      throw new ApiError({ status: 0, code: 'network', path: url });
    }
  }

  async _create() {
    const meta = [`filename ${b64(this.file.name)}`];
    if (this.file.type) meta.push(`filetype ${b64(this.file.type)}`);
    const res = await this._fetch(this.endpoint, {
      method: 'POST',
      headers: this._headers({ 'Upload-Length': String(this.file.size), 'Upload-Metadata': meta.join(',') }),
    });
    if (res.status !== 201 && !res.ok) throw await errorFrom(res, this.endpoint);
    const loc = res.headers.get('Location');
    if (!loc) throw new ApiError({ status: res.status, code: 'bad_response', message: 'The server created the upload but did not say where to send it (no Location header).', path: this.endpoint });
    this.url = new URL(loc, location.href).pathname + new URL(loc, location.href).search;
    this.onUrl(this.url);
    return 0;
  }

  // -> the server's offset, or null when the slot is gone (expired, deleted).
  async _head() {
    const res = await this._fetch(this.url, { method: 'HEAD', headers: this._headers({}) });
    if (res.status === 404 || res.status === 410 || res.status === 403) return null;
    if (!res.ok) throw await errorFrom(res, this.url);
    const off = Number(res.headers.get('Upload-Offset'));
    if (!Number.isFinite(off)) throw new ApiError({ status: res.status, code: 'bad_response', message: 'The server did not report the upload offset.', path: this.url });
    return off;
  }

  _patch(offset) {
    const end = Math.min(offset + chunkSize(), this.file.size);
    const body = this.file.slice(offset, end);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('PATCH', this.url);
      const hd = this._headers({ 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' });
      for (const [k, v] of Object.entries(hd)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) this._progress(offset + Math.min(e.loaded, end - offset)); };
      xhr.onload = async () => {
        this.xhr = null;
        if (xhr.status === 204 || xhr.status === 200) {
          const n = Number(xhr.getResponseHeader('Upload-Offset'));
          resolve(Number.isFinite(n) ? n : end);
          return;
        }
        const headers = new Headers();
        const rid = xhr.getResponseHeader('X-Request-Id');
        if (rid) headers.set('X-Request-Id', rid);
        const st = xhr.status >= 200 && xhr.status <= 599 ? xhr.status : 500;
        reject(await errorFrom(new Response(xhr.responseText || '', { status: st, headers }), this.url));
      };
      xhr.onerror = () => { this.xhr = null; reject(new ApiError({ status: 0, code: 'network', path: this.url })); };
      xhr.onabort = () => { this.xhr = null; reject(new PausedError()); };
      xhr.send(body);
    });
  }

  pause() {
    if (this.abort) this.abort.abort();
    if (this.xhr) this.xhr.abort();
  }

  // Uploads to the end; resolves with the slot URL. Rejects with PausedError
  // after pause(), or an ApiError that retrying cannot fix.
  async start() {
    this.abort = new AbortController();
    this.samples = [];
    let failures = 0;
    let conflicts = 0;
    let phase = 'create';
    this._setState('starting');
    for (;;) {
      try {
        if (this.abort.signal.aborted) throw new PausedError();
        phase = this.url ? 'head' : 'create';
        if (!this.url) {
          this.offset = await this._create();
        } else if (this.state === 'starting' || this.state === 'retrying') {
          const off = await this._head();
          if (off === null) { this.url = null; this.onUrl(null); continue; }
          if (this.resumedFrom === null && off > 0) this.resumedFrom = off;
          this._progress(off);
        }
        this._setState('uploading');
        phase = 'patch';
        while (this.offset < this.file.size) {
          if (this.abort.signal.aborted) throw new PausedError();
          const next = await this._patch(this.offset);
          this._progress(next);
          failures = 0;
        }
        if (this.file.size === 0) this._progress(0);
        this._setState('done');
        return this.url;
      } catch (e) {
        if (e instanceof PausedError || this.abort.signal.aborted) { this._setState('paused'); throw new PausedError(); }
        if (!(e instanceof ApiError)) { this._setState('failed', e); throw e; }
        // Offset mismatch: ask HEAD where the server is, and go on from there.
        if (e.status === 409 && phase === 'patch' && conflicts < 5) { conflicts += 1; this._setState('retrying', e); continue; }
        const transient = e.code === 'network' || e.status >= 500 || e.status === 429 || e.status === 408;
        if (!transient || failures >= RETRY_DELAYS.length) { this._setState('failed', e); throw e; }
        const wait = RETRY_DELAYS[failures];
        failures += 1;
        this._setState('retrying', { error: e, wait, attempt: failures });
        await sleep(wait, this.abort.signal);
      }
    }
  }
}

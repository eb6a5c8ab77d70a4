// readalong.mjs - the transcript read-along: reads the JSON transcript
// (words with start/end seconds, grouped into pause-delimited segments),
// renders it as segments of word spans, highlights the word being spoken as
// the <audio> element plays (binary search on start times, on timeupdate and
// every animation frame while playing), scrolls it into view when "follow"
// is on, and seeks when a word or a segment's time is clicked.
import { h, replace, fmtClock } from './ui.mjs';

function num(o, ...keys) {
  for (const k of keys) {
    if (o && o[k] !== undefined && o[k] !== null && Number.isFinite(+o[k])) return k.endsWith('_ms') ? +o[k] / 1000 : +o[k];
  }
  return null;
}

function readWord(w) {
  if (typeof w === 'string') return null;
  const text = w.word ?? w.text ?? w.w ?? w.token;
  const start = num(w, 'start', 'start_time', 's', 'from', 'start_ms');
  const end = num(w, 'end', 'end_time', 'e', 'to', 'end_ms');
  if (text === undefined || text === null || start === null) return null;
  return { text: String(text), start, end: end ?? start + 0.3 };
}

// -> {segments: [{start, end, text, words: [...]}], words: [...]} sorted by time.
export function parseTranscript(data) {
  let d = data && (data.transcript && typeof data.transcript === 'object' ? data.transcript : data);
  let parts = [d];
  if (d && Array.isArray(d.chapters)) parts = d.chapters.map((c) => c.transcript || c);
  const segments = [];
  const loose = [];
  for (const p of parts) {
    if (!p) continue;
    const segs = Array.isArray(p.segments) ? p.segments : [];
    const words = (Array.isArray(p.words) ? p.words : []).map(readWord).filter(Boolean);
    if (segs.length) {
      for (const s of segs) {
        const start = num(s, 'start', 'start_time', 'start_ms') ?? 0;
        const end = num(s, 'end', 'end_time', 'end_ms') ?? start;
        let ws = Array.isArray(s.words) ? s.words.map(readWord).filter(Boolean) : null;
        if (!ws) ws = words.filter((w) => w.start >= start - 0.01 && w.start < end + 0.01);
        segments.push({ start, end, text: s.text ?? ws.map((w) => w.text).join(' '), words: ws });
      }
    } else {
      loose.push(...words);
    }
  }
  if (loose.length) {
    // No segments given: cut at pauses over 0.8 s or every 25 words.
    loose.sort((a, b) => a.start - b.start);
    let cur = null;
    for (const w of loose) {
      if (!cur || w.start - cur.end > 0.8 || cur.words.length >= 25) {
        cur = { start: w.start, end: w.end, words: [] };
        segments.push(cur);
      }
      cur.words.push(w);
      cur.end = Math.max(cur.end, w.end);
    }
    segments.forEach((s) => { s.text = s.words.map((w) => w.text).join(' '); });
  }
  segments.sort((a, b) => a.start - b.start);
  const words = segments.flatMap((s) => s.words).filter((w) => !/^(<.*>|\[.*\]|<sil>|sil)$/i.test(w.text));
  return { segments, words };
}

export class ReadAlong {
  constructor(audio, box, followFn) {
    this.audio = audio;
    this.box = box;
    this.follow = followFn;
    this.words = [];
    this.spans = [];
    this.current = -1;
    this.raf = 0;
    this.onTime = () => this.update();
    this.onPlay = () => this.loop();
    audio.addEventListener('timeupdate', this.onTime);
    audio.addEventListener('seeked', this.onTime);
    audio.addEventListener('play', this.onPlay);
  }

  load(parsed, onSeek) {
    this.words = [];
    this.spans = [];
    this.current = -1;
    const list = h('div', { class: 'transcript', id: 'transcript', tabindex: '0', 'aria-label': 'Transcript' });
    for (const seg of parsed.segments) {
      const segEl = h('p', { class: 'seg' });
      const tb = h('button', { type: 'button', class: 'seg-time', 'aria-label': `Play from ${fmtClock(seg.start)}` }, fmtClock(seg.start));
      tb.addEventListener('click', () => onSeek(seg.start));
      segEl.appendChild(tb);
      for (const w of seg.words) {
        if (/^(<.*>|\[.*\]|<sil>|sil)$/i.test(w.text)) continue;
        const span = h('span', { class: 'w', dataset: { start: w.start.toFixed(2), end: w.end.toFixed(2) } }, w.text.replace(/\(\d+\)$/, ''));
        span.addEventListener('click', () => onSeek(w.start));
        this.words.push(w);
        this.spans.push(span);
        segEl.append(span, ' ');
      }
      if (!seg.words.length && seg.text) segEl.append(seg.text);
      list.appendChild(segEl);
    }
    replace(this.box, list);
    this.list = list;
    this.update();
  }

  // Index of the word being spoken at time t, or -1.
  indexAt(t) {
    const ws = this.words;
    let lo = 0, hi = ws.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ws[mid].start <= t) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (ans >= 0 && t > ws[ans].end + 1.0) return -1;
    return ans;
  }

  update() {
    if (!this.spans.length) return;
    const i = this.indexAt(this.audio.currentTime || 0);
    if (i === this.current) return;
    if (this.current >= 0 && this.spans[this.current]) {
      this.spans[this.current].classList.remove('current');
      this.spans[this.current].removeAttribute('aria-current');
    }
    this.current = i;
    if (i >= 0) {
      const s = this.spans[i];
      s.classList.add('current');
      s.setAttribute('aria-current', 'true');
      if (this.follow() && !this.audio.paused && this.list) {
        const top = s.offsetTop;
        if (top < this.list.scrollTop + 20 || top > this.list.scrollTop + this.list.clientHeight - 40) {
          this.list.scrollTop = Math.max(0, top - this.list.clientHeight / 3);
        }
      }
    }
    if (this.list) this.list.dataset.currentWord = String(i);
  }

  loop() {
    cancelAnimationFrame(this.raf);
    const step = () => {
      this.update();
      if (!this.audio.paused && !this.audio.ended) this.raf = requestAnimationFrame(step);
    };
    this.raf = requestAnimationFrame(step);
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.audio.removeEventListener('timeupdate', this.onTime);
    this.audio.removeEventListener('seeked', this.onTime);
    this.audio.removeEventListener('play', this.onPlay);
  }
}

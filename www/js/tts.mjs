// tts.mjs - the Text to speech page: a script or a book in chapters, engine,
// voice (from GET /api/v1/voices), speed, pitch and format; submits to
// POST /api/v1/tts/queue, then follows the request (#/tts/{job_id}) chapter by
// chapter, polling every 1.5 s until it is final, and offers the result to
// play and download. Also lists the caller's earlier requests.
import { get, post, del, blob, pick, listIn, percentOf, ApiError } from './api.mjs';
import { h, replace, field, fieldError, errorBox, notice, badge, progressBar, fmtWhen, poller, saveBlob, announce, explain } from './ui.mjs';

const FALLBACK_VOICES = {
  flite: [['slt', 'slt (US English, female)'], ['rms', 'rms (US English, male)'], ['awb', 'awb (Scottish English, male)'], ['kal', 'kal (US English, male)']],
  'espeak-ng': [['en', 'English'], ['en-us', 'English (US)'], ['hi', 'Hindi'], ['de', 'German'], ['fr', 'French'], ['es', 'Spanish']],
};
const ACTIVE = new Set(['queued', 'pending', 'waiting', 'running', 'processing']);

// {engine: [[voice id, label], ...]} from the shapes /api/v1/voices may use.
function readVoices(data) {
  const out = {};
  const add = (eng, v) => {
    if (!eng) return;
    out[eng] = out[eng] || [];
    if (v === undefined || v === null) return;
    const id = typeof v === 'string' ? v : pick(v, 'id', 'voice', 'name');
    if (id === undefined || out[eng].some((x) => x[0] === id)) return;
    const lang = typeof v === 'object' ? pick(v, 'language', 'lang') : null;
    const name = typeof v === 'object' ? pick(v, 'label', 'description', 'name') : null;
    out[eng].push([String(id), `${name && name !== id ? `${id} — ${name}` : id}${lang ? ` (${lang})` : ''}`]);
  };
  const engines = pick(data, 'engines');
  if (Array.isArray(engines)) engines.forEach((e) => { const n = typeof e === 'string' ? e : pick(e, 'name', 'engine', 'id'); add(n); (pick(e, 'voices') || []).forEach((v) => add(n, v)); });
  else if (engines && typeof engines === 'object') Object.entries(engines).forEach(([n, e]) => { add(n); (Array.isArray(e) ? e : pick(e, 'voices') || []).forEach((v) => add(n, v)); });
  listIn(data, 'voices').forEach((v) => add(pick(v, 'engine'), v));
  return out;
}

export async function render(main, params) {
  const jobId = params[0];
  const current = h('div', { id: 'tts-current' });
  const history = h('div', { id: 'tts-history' });
  const formBox = h('div');
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Text to speech')),
    h('div', { class: 'grid2' }, h('section', { class: 'card', 'aria-labelledby': 'tts-form-h' }, h('h2', { id: 'tts-form-h' }, jobId ? 'New request' : 'What should be read'), formBox),
      h('div', null, current, h('section', { class: 'card', 'aria-labelledby': 'tts-hist-h' }, h('h2', { id: 'tts-hist-h' }, 'Your requests'), history))));

  const stops = [];
  buildForm(formBox);
  loadHistory(history).then((ok) => {
    if (ok !== false) return;
    formBox.prepend(h('div', { class: 'unavailable', role: 'status', id: 'tts-unavailable' }, h('strong', null, 'Text to speech is not available on this server yet.'), ' You can look at the form, but requests cannot be sent until the server offers /api/v1/tts/queue.'));
    const b = formBox.querySelector('#tts-submit');
    if (b) b.disabled = true;
  });
  if (jobId) stops.push(follow(current, jobId, () => loadHistory(history)));
  return () => stops.forEach((s) => s());
}

function buildForm(box) {
  const modeScript = h('input', { type: 'radio', name: 'tts-mode', id: 'mode-script', value: 'script', checked: true });
  const modeBook = h('input', { type: 'radio', name: 'tts-mode', id: 'mode-book', value: 'book' });
  const script = h('textarea', { id: 'tts-script', name: 'script_text', rows: '8', maxlength: '2000000' });
  const count = h('p', { class: 'hint', 'aria-live': 'off' }, '0 characters');
  script.addEventListener('input', () => { count.textContent = `${script.value.length.toLocaleString()} characters`; });
  const scriptBox = h('div', null, field('Script', script).wrap, count);

  const bookTitle = h('input', { type: 'text', id: 'tts-title', maxlength: '255' });
  const chList = h('div', { id: 'tts-chapters' });
  const addCh = h('button', { type: 'button', class: 'secondary small', id: 'add-chapter' }, 'Add a chapter');
  const bookBox = h('div', { hidden: true }, field('Book title', bookTitle).wrap, chList, addCh);
  let chN = 0;
  function addChapter() {
    chN += 1;
    const n = chN;
    const t = h('input', { type: 'text', id: `ch-title-${n}`, value: `Chapter ${chList.children.length + 1}`, maxlength: '255' });
    const x = h('textarea', { id: `ch-text-${n}`, rows: '4' });
    const rm = h('button', { type: 'button', class: 'link small', 'aria-label': `Remove chapter ${n}` }, 'Remove');
    const wrap = h('div', { class: 'chapter-edit', dataset: { n: String(n) } }, field('Chapter title', t).wrap, field('Chapter text', x).wrap, rm);
    rm.addEventListener('click', () => { wrap.remove(); });
    chList.appendChild(wrap);
    return x;
  }
  addCh.addEventListener('click', () => addChapter().focus());
  addChapter();
  const setMode = () => { scriptBox.hidden = !modeScript.checked; bookBox.hidden = !modeBook.checked; };
  modeScript.addEventListener('change', setMode);
  modeBook.addEventListener('change', setMode);

  const engine = h('select', { id: 'tts-engine' });
  const voice = h('select', { id: 'tts-voice' });
  const voicesNote = h('div', { id: 'voices-note' });
  const speed = h('input', { type: 'range', id: 'tts-speed', min: '0.5', max: '2', step: '0.05', value: '1' });
  const speedOut = h('output', { for: 'tts-speed', id: 'tts-speed-out' }, '1.00×');
  speed.addEventListener('input', () => { speedOut.textContent = `${Number(speed.value).toFixed(2)}×`; speed.setAttribute('aria-valuetext', `${Number(speed.value).toFixed(2)} times`); });
  const pitch = h('input', { type: 'range', id: 'tts-pitch', min: '0.5', max: '2', step: '0.05', value: '1' });
  const pitchOut = h('output', { for: 'tts-pitch', id: 'tts-pitch-out' }, '1.00×');
  pitch.addEventListener('input', () => { pitchOut.textContent = `${Number(pitch.value).toFixed(2)}×`; pitch.setAttribute('aria-valuetext', `${Number(pitch.value).toFixed(2)} times`); });
  const format = h('select', { id: 'tts-format' }, [['mp3', 'MP3'], ['m4b', 'M4B audiobook (chapters)'], ['wav', 'WAV']].map(([v, n]) => h('option', { value: v }, n)));
  const notify = h('input', { type: 'url', id: 'tts-notify', placeholder: 'https://…', autocomplete: 'off' });
  const priority = h('input', { type: 'number', id: 'tts-priority', min: '-100', max: '100', step: '1', placeholder: '0' });
  const channel = h('input', { type: 'text', id: 'tts-channel', maxlength: '32', autocomplete: 'off', placeholder: 'BI' });
  const videoNo = h('input', { type: 'number', id: 'tts-video', min: '1', step: '1' });
  const date = h('input', { type: 'date', id: 'tts-date' });
  const submit = h('button', { type: 'submit', id: 'tts-submit' }, 'Create speech');
  const status = h('div', { id: 'tts-status', 'aria-live': 'polite' });

  let voices = FALLBACK_VOICES;
  const fillVoices = () => {
    const list = voices[engine.value] || [];
    replace(voice, list.length ? list.map(([v, n]) => h('option', { value: v }, n)) : h('option', { value: '' }, 'default'));
  };
  const fillEngines = () => { replace(engine, Object.keys(voices).map((e) => h('option', { value: e }, e))); fillVoices(); };
  engine.addEventListener('change', fillVoices);
  fillEngines();
  get('/api/v1/voices').then((data) => {
    const v = readVoices(data);
    if (Object.keys(v).length) { voices = v; fillEngines(); }
    else replace(voicesNote, notice('warn', 'No speech workers are online right now.', 'Requests wait in the queue until one starts; the usual voices are listed.'));
  }).catch((e) => {
    replace(voicesNote, e instanceof ApiError && e.unavailable
      ? h('p', { class: 'hint' }, 'This server does not list its voices yet; the usual flite and espeak-ng voices are offered.')
      : errorBox(e, 'Could not load the voices'));
  });

  const form = h('form', { id: 'tts-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'Text'),
      h('div', { class: 'row' }, h('label', { class: 'inline', for: 'mode-script' }, modeScript, 'One script'), h('label', { class: 'inline', for: 'mode-book' }, modeBook, 'A book in chapters')),
      scriptBox, bookBox),
    h('fieldset', null, h('legend', null, 'Voice'),
      h('div', { class: 'fields2' }, field('Engine', engine).wrap, field('Voice', voice).wrap),
      voicesNote,
      h('div', { class: 'fields2' },
        h('div', { class: 'field' }, h('label', { for: 'tts-speed' }, 'Speed ', speedOut), speed),
        h('div', { class: 'field' }, h('label', { for: 'tts-pitch' }, 'Pitch ', pitchOut), pitch)),
      field('Format', format).wrap),
    h('details', { id: 'tts-more' }, h('summary', null, 'More options'),
      field('Tell this URL when it is done', notify, 'quire POSTs a signed JSON event to it.').wrap,
      field('Priority', priority, 'Higher runs sooner; leave empty for your account’s default.').wrap,
      h('fieldset', null, h('legend', null, 'Daily video (optional)'),
        h('p', { class: 'hint' }, 'Files the result under date / channel / video number.'),
        h('div', { class: 'fields2' }, field('Channel code', channel).wrap, field('Video number', videoNo).wrap),
        field('Date', date).wrap)),
    submit, status);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    [script, speed, voice, engine, notify, bookTitle, priority, channel, videoNo, date].forEach((x) => fieldError(x, null));
    chList.querySelectorAll('textarea').forEach((x) => fieldError(x, null));
    replace(status);
    const vs = { engine: engine.value, voice: voice.value, speed: Number(speed.value), pitch: Number(pitch.value) || 1 };
    const body = { voice_settings: vs, format: format.value };
    if (notify.value.trim()) body.notify_url = notify.value.trim();
    if (priority.value.trim()) body.priority = Number(priority.value);
    if (channel.value.trim() || videoNo.value || date.value) {
      if (!(channel.value.trim() && videoNo.value && date.value)) {
        const miss = !channel.value.trim() ? channel : !videoNo.value ? videoNo : date;
        document.getElementById('tts-more').open = true;
        fieldError(miss, 'A daily video needs the channel code, the video number and the date.');
        miss.focus();
        return;
      }
      Object.assign(body, { channel_code: channel.value.trim(), video_number: Number(videoNo.value), date: date.value });
    }
    if (modeScript.checked) {
      if (!script.value.trim()) { fieldError(script, 'Paste or type the text to read.'); script.focus(); return; }
      body.script_text = script.value;
    } else {
      const chs = [...chList.querySelectorAll('.chapter-edit')].map((w, i) => ({ id: `ch${i + 1}`, title: w.querySelector('input').value.trim() || `Chapter ${i + 1}`, text: w.querySelector('textarea').value, el: w.querySelector('textarea') }));
      const empty = chs.find((c) => !c.text.trim());
      if (!chs.length) { replace(status, notice('error', 'Add at least one chapter.')); addCh.focus(); return; }
      if (empty) { fieldError(empty.el, 'This chapter has no text.'); empty.el.focus(); return; }
      body.title = bookTitle.value.trim() || 'Untitled';
      body.chapters = chs.map(({ id, title, text }) => ({ id, title, text }));
    }
    submit.disabled = true;
    try {
      const res = await post('/api/v1/tts/queue', body);
      const id = pick(res, 'job_id', 'id');
      announce('Speech request queued');
      location.hash = `/tts/${encodeURIComponent(id)}`;
    } catch (e) {
      if (e instanceof ApiError && (e.code === 'validation_failed' || e.status === 422 || e.status === 400)) {
        const m = (e.serverMessage || '').toLowerCase();
        const more = /notify|priority|channel|video_number|date/.test(m);
        if (more) document.getElementById('tts-more').open = true;
        const target = /speed/.test(m) ? speed : /pitch/.test(m) ? pitch : /voice\b/.test(m) ? voice : /engine/.test(m) ? engine : /notify/.test(m) ? notify :
          /priority/.test(m) ? priority : /channel/.test(m) ? channel : /video_number/.test(m) ? videoNo : /\bdate\b/.test(m) ? date : /title/.test(m) && modeBook.checked ? bookTitle : /text|script|chapter/.test(m) ? (modeScript.checked ? script : chList.querySelector('textarea')) : null;
        if (target) { fieldError(target, e.serverMessage ? e.serverMessage.replace(/^./, (c) => c.toUpperCase()) : explain(e).lead); target.focus(); }
        else replace(status, errorBox(e, 'The request was not accepted'));
      } else {
        replace(status, errorBox(e, 'Could not queue the speech request', 'Text to speech'));
      }
    } finally { submit.disabled = false; }
  });
  replace(box, form);
}

async function loadHistory(box) {
  replace(box, h('p', { class: 'loading' }, 'Loading…'));
  try {
    const data = await get('/api/v1/tts/queue?page=1');
    const items = listIn(data, 'jobs', 'requests');
    if (!items.length) { replace(box, h('p', { class: 'muted' }, 'No requests yet.')); return; }
    replace(box, h('ul', { class: 'results' }, items.map((j) => {
      const id = pick(j, 'job_id', 'id');
      const st = pick(j, 'status') || 'unknown';
      return h('li', null, h('a', { href: `#/tts/${encodeURIComponent(id)}` }, pick(j, 'title') || `Request ${id}`), ' ', badge(st),
        h('span', { class: 'muted small' }, ` ${fmtWhen(pick(j, 'created_at'))}`));
    })));
  } catch (e) {
    replace(box, errorBox(e, 'Could not load your requests', 'Text to speech'));
    if (e instanceof ApiError && e.unavailable) return false;
  }
  return true;
}

function follow(box, id, onFinal) {
  let finalSeen = false;
  const base = `/api/v1/tts/queue/${encodeURIComponent(id)}`;
  let audioUrl = null;
  let shownDone = false;
  const card = h('section', { class: 'card', 'aria-labelledby': 'tts-cur-h', id: 'tts-request' }, h('h2', { id: 'tts-cur-h' }, `Request ${id}`));
  const body = h('div', { 'aria-live': 'off' });
  const result = h('div', { id: 'tts-result', 'aria-live': 'polite' });
  card.append(body, result);
  replace(box, card);

  async function tick() {
    let j;
    try { j = await get(base); } catch (e) {
      replace(body, errorBox(e, 'Could not load this request', 'Text to speech'));
      return !(e instanceof ApiError && (e.unavailable || e.status === 404 || e.status === 401));
    }
    const st = pick(j, 'status') || 'unknown';
    const p = percentOf(pick(j, 'progress_percent', 'progress'), st === 'completed' ? 'completed' : null);
    const bar = progressBar('Speech progress');
    bar.set(p, { done: st === 'completed', failed: st === 'failed' });
    const chapters = listIn(pick(j, 'chapters') || [], 'chapters');
    const cancel = ACTIVE.has(st) ? h('button', { type: 'button', class: 'danger small', id: 'tts-cancel' }, 'Cancel') : null;
    if (cancel) cancel.addEventListener('click', async () => { cancel.disabled = true; try { await del(base); announce('Cancelled'); } catch (e) { replace(result, errorBox(e, 'Could not cancel')); } });
    replace(body,
      h('div', { class: 'row spread' }, badge(st), cancel),
      bar,
      h('div', { class: 'progline' }, h('span', { class: 'pct' }, `${Math.floor(p)}%`),
        pick(j, 'total_chapters') ? h('span', null, `chapter ${pick(j, 'current_chapter') ?? 0} of ${pick(j, 'total_chapters')}`) : null,
        pick(j, 'progress_message') ? h('span', null, pick(j, 'progress_message')) : null),
      pick(j, 'error') ? notice('error', 'The request failed.', pick(j, 'error')) : null,
      chapters.length ? h('ol', { class: 'filelist', id: 'tts-chapter-progress' }, chapters.map((c, i) => {
        const cs = pick(c, 'status') || 'pending';
        const cp = percentOf(pick(c, 'progress_percent', 'progress'), cs);
        const b = progressBar(`Chapter ${i + 1} progress`);
        b.set(cp, { done: cs === 'completed', failed: cs === 'failed' });
        const n = pick(c, 'number', 'index') ?? i + 1;
        const dl = cs === 'completed' ? h('button', { type: 'button', class: 'link small', 'aria-label': `Download chapter ${n}` }, 'Download') : null;
        if (dl) dl.addEventListener('click', () => download(pick(c, 'audio_url') || `${base}/chapters/${encodeURIComponent(n)}/audio`, `chapter-${n}`));
        return h('li', null, h('div', { class: 'row spread' }, h('span', null, pick(c, 'title') || `Chapter ${n}`), h('span', { class: 'row' }, badge(cs), dl)), b);
      })) : null);
    if (st === 'completed' && !shownDone) {
      shownDone = true;
      showResult(pick(j, 'audio_url'));
    }
    if (!ACTIVE.has(st) && !finalSeen) { finalSeen = true; onFinal(); }
    return ACTIVE.has(st);
  }

  async function download(path, name) {
    try {
      const b = await blob(path);
      saveBlob(b, `${name}.${(b.type.split('/')[1] || 'audio').replace('mpeg', 'mp3').replace('x-', '')}`);
    } catch (e) { replace(result, errorBox(e, 'Could not download the audio')); }
  }

  async function showResult(url) {
    const path = typeof url === 'string' && url.startsWith('/') ? url : `${base}/audio`;
    replace(result, h('p', { class: 'small muted' }, 'Loading the audio…'));
    try {
      const b = await blob(path);
      audioUrl = URL.createObjectURL(b);
      const dl = h('button', { type: 'button', class: 'secondary', id: 'tts-download' }, 'Download');
      dl.addEventListener('click', () => saveBlob(b, `speech-${id}.${(b.type.split('/')[1] || 'audio').replace('mpeg', 'mp3')}`));
      replace(result, h('h3', null, 'Result'), h('audio', { controls: true, src: audioUrl, id: 'tts-audio', 'aria-label': 'The synthesized speech' }), h('p', null, dl));
      announce('The speech is ready');
    } catch (e) {
      replace(result, errorBox(e, 'Could not load the result', 'Speech downloads'));
    }
  }

  const p = poller(tick, 1500).start();
  return () => { p.stop(); if (audioUrl) URL.revokeObjectURL(audioUrl); };
}

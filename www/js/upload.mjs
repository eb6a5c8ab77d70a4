// upload.mjs - the Upload page: drag and drop (or choose) audio files, send
// them with resumable tus uploads into one upload session, show per-file and
// overall progress (bytes, speed, time left), then create the audiobook from
// the metadata form. The session id and each file's tus URL are kept in
// localStorage, so after a reload or a dropped network the same files pick up
// where they stopped.
import { session, get, post, del, ApiError, pick, listIn } from './api.mjs';
import { h, replace, field, fieldError, errorBox, notice, progressBar, fmtBytes, fmtSpeed, fmtEta, fmtWhen, announce, explain } from './ui.mjs';
import { TusUpload, PausedError } from './tus.mjs';

const STORE = 'quire.pendingUpload';
const AUDIO_EXT = /\.(mp3|m4a|m4b|mp4|aac|flac|ogg|oga|opus|wav|wave)$/i;
const LANGS = [['en', 'English'], ['hi', 'Hindi'], ['de', 'German'], ['fr', 'French'], ['es', 'Spanish'], ['it', 'Italian'], ['pt', 'Portuguese'], ['nl', 'Dutch'], ['ru', 'Russian'], ['zh', 'Chinese'], ['ja', 'Japanese']];

// A short, non-reversible tag of the token so one user's unfinished upload is
// not offered to another who signs in on the same browser.
function fnv(str) {
  let x = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) { x ^= str.charCodeAt(i); x = Math.imul(x, 0x01000193) >>> 0; }
  return x.toString(16);
}
function owner() { return fnv(session.token); }
const keyOf = (f) => `${f.name}|${f.size}|${f.lastModified}`;

function loadPending() {
  try {
    const p = JSON.parse(localStorage.getItem(STORE) || 'null');
    return p && p.owner === owner() ? p : null;
  } catch { return null; }
}
function savePending(p) { if (p) localStorage.setItem(STORE, JSON.stringify(p)); else localStorage.removeItem(STORE); }

function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function naturalCompare(a, b) { return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' }); }

export function render(main) {
  let pending = loadPending();
  let items = [];          // {file, key, li, bar, line, status, tus, done, url, error}
  let running = false;
  let current = null;      // the TusUpload in flight
  let destroyed = false;
  let lastNetworkFailure = false;

  const fileInput = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'sr-only', accept: 'audio/*,.mp3,.m4a,.m4b,.flac,.ogg,.opus,.wav' });
  const chooseBtn = h('label', { for: 'file-input', class: 'button secondary', tabindex: '0', role: 'button', id: 'choose-files' }, 'Choose files');
  chooseBtn.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
  const drop = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', null, h('strong', null, 'Drag and drop audio files here')),
    h('p', { class: 'muted small' }, 'MP3, M4A/M4B, FLAC, Ogg or WAV. Several files become chapters, in name order.'),
    h('p', null, chooseBtn), fileInput);
  const resumeBox = h('div', { id: 'resume-box' });
  const list = h('ul', { class: 'filelist', id: 'filelist', 'aria-label': 'Files to upload' });
  const overallBar = progressBar('Overall upload progress');
  const overallLine = h('div', { class: 'progline', id: 'overall-line' });
  const overall = h('div', { id: 'overall', hidden: true }, h('h3', null, 'All files'), overallBar, overallLine);
  const filesError = h('div', { id: 'files-error' });

  const title = h('input', { type: 'text', id: 'meta-title', name: 'title', maxlength: '255', required: true, 'aria-required': 'true', autocomplete: 'off' });
  const author = h('input', { type: 'text', id: 'meta-author', name: 'author', maxlength: '255', autocomplete: 'off' });
  const desc = h('textarea', { id: 'meta-description', name: 'description', maxlength: '10000', rows: '3' });
  const lang = h('select', { id: 'meta-language', name: 'language' }, LANGS.map(([v, n]) => h('option', { value: v }, `${n} (${v})`)));
  const isPublic = h('input', { type: 'checkbox', id: 'meta-public', name: 'is_public' });
  const submit = h('button', { type: 'submit', id: 'start-upload' }, 'Upload and create audiobook');
  const pauseBtn = h('button', { type: 'button', class: 'secondary', id: 'pause-upload', hidden: true }, 'Pause');
  const status = h('div', { id: 'upload-status', 'aria-live': 'polite' });
  const form = h('form', { id: 'meta-form', novalidate: true },
    h('div', { class: 'fields2' }, field('Title', title).wrap, field('Author', author).wrap),
    field('Description', desc).wrap,
    h('div', { class: 'fields2' },
      field('Language', lang, 'The language spoken; it picks the speech model.').wrap,
      h('div', { class: 'field' }, h('span', { class: 'label-like' }, ' '), h('label', { class: 'inline', for: 'meta-public' }, isPublic, 'Public (other users can find it)'))),
    h('div', { class: 'row' }, submit, pauseBtn), status);

  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Upload an audiobook')),
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'files-h' }, h('h2', { id: 'files-h' }, '1. Audio files'), resumeBox, drop, filesError, list, overall),
      h('section', { class: 'card', 'aria-labelledby': 'meta-h' }, h('h2', { id: 'meta-h' }, '2. About the book'), form)));

  function showResume() {
    replace(resumeBox);
    if (!pending || !pending.files || !pending.files.length) return;
    const left = pending.files.filter((f) => !f.done);
    if (!left.length && !pending.created) {
      replace(resumeBox, notice('info', 'Your earlier upload finished; the audiobook was not created yet.', `Add the same files again (${pending.files.map((f) => f.name).join(', ')}) and press “Upload and create audiobook”: nothing will be sent twice.`,
        h('p', null, h('button', { type: 'button', class: 'small secondary', onclick: discard }, 'Discard it'))));
      return;
    }
    replace(resumeBox, notice('warn', `An unfinished upload from ${fmtWhen(pending.started)}`,
      `Add the same files again to continue where they stopped: ${left.map((f) => `${f.name} (${fmtBytes(f.size)})`).join(', ')}.`,
      h('p', null, h('button', { type: 'button', class: 'small secondary', id: 'discard-pending', onclick: discard }, 'Discard it and start over'))));
  }

  async function discard() {
    const p = pending;
    pending = null;
    savePending(null);
    items.forEach((it) => { it.url = null; it.done = false; });
    showResume();
    announce('The unfinished upload was discarded.');
    if (p && p.upload_id) { try { await del(`/api/v1/uploads/${encodeURIComponent(p.upload_id)}`); } catch { /* best effort */ } }
  }

  function addFiles(fileList) {
    if (running) return;
    replace(filesError);
    const bad = [];
    for (const file of fileList) {
      const isAudio = (file.type && file.type.startsWith('audio/')) || AUDIO_EXT.test(file.name);
      if (!isAudio) { bad.push(file.name); continue; }
      const key = keyOf(file);
      if (items.some((x) => x.key === key)) continue;
      const it = { file, key, done: false, url: null, error: null };
      const saved = pending && pending.files && pending.files.find((f) => f.key === key);
      if (saved) { it.url = saved.url; it.done = !!saved.done; }
      items.push(it);
    }
    items.sort((a, b) => naturalCompare(a.file.name, b.file.name));
    if (bad.length) replace(filesError, notice('error', `Not added: ${bad.join(', ')}`, 'These do not look like audio files. quire accepts MP3, M4A/M4B, FLAC, Ogg and WAV.'));
    if (!title.value && items.length) title.value = items[0].file.name.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ').trim();
    drawList();
    announce(`${items.length} file${items.length === 1 ? '' : 's'} ready to upload.`);
  }

  function drawList() {
    replace(list);
    for (const it of items) {
      it.bar = progressBar(`Upload progress of ${it.file.name}`);
      it.line = h('div', { class: 'progline' });
      const rm = running ? null : h('button', { type: 'button', class: 'link small', 'aria-label': `Remove ${it.file.name}`, onclick: () => { items = items.filter((x) => x !== it); drawList(); } }, 'Remove');
      it.err = h('div');
      it.li = h('li', { dataset: { file: it.file.name } },
        h('div', { class: 'row spread' }, h('span', { class: 'name' }, it.file.name), h('span', { class: 'row' }, h('span', { class: 'muted small' }, fmtBytes(it.file.size)), rm)),
        it.bar, it.line, it.err);
      list.appendChild(it.li);
      paintItem(it);
    }
    overall.hidden = items.length === 0;
    paintOverall();
  }

  function paintItem(it, extra) {
    const t = it.tus;
    const sent = it.done ? it.file.size : t ? t.offset : 0;
    const p = it.file.size ? (sent / it.file.size) * 100 : (it.done ? 100 : 0);
    it.bar.set(p, { done: it.done, failed: !!it.error, text: `${Math.floor(p)}%` });
    const parts = [h('span', { class: 'pct' }, `${Math.floor(p)}%`), h('span', null, `${fmtBytes(sent)} of ${fmtBytes(it.file.size)}`)];
    if (t && t.state === 'uploading' && !it.done) parts.push(h('span', null, fmtSpeed(t.speed)), h('span', null, `${fmtEta(t.eta)} left`));
    if (it.done) parts.push(h('span', null, 'uploaded'));
    else if (extra) parts.push(h('span', null, extra));
    else if (t && t.resumedFrom) parts.push(h('span', null, `resumed at ${fmtBytes(t.resumedFrom)}`));
    replace(it.line, parts);
    it.li.dataset.percent = String(Math.floor(p));
    if (t && t.resumedFrom !== null) it.li.dataset.resumedFrom = String(t.resumedFrom);
  }

  function paintOverall() {
    const total = items.reduce((a, it) => a + it.file.size, 0);
    const sent = items.reduce((a, it) => a + (it.done ? it.file.size : it.tus ? it.tus.offset : 0), 0);
    const p = total ? (sent / total) * 100 : 0;
    const allDone = items.length > 0 && items.every((it) => it.done);
    overallBar.set(allDone ? 100 : p, { done: allDone, text: `${Math.floor(p)}%` });
    const sp = current ? current.speed : 0;
    const parts = [h('span', { class: 'pct' }, `${Math.floor(allDone ? 100 : p)}%`), h('span', null, `${fmtBytes(sent)} of ${fmtBytes(total)}`),
      h('span', null, `${items.filter((x) => x.done).length} of ${items.length} files`)];
    if (running && sp > 0) parts.push(h('span', null, fmtSpeed(sp)), h('span', null, `${fmtEta((total - sent) / sp)} left`));
    replace(overallLine, parts);
    overall.dataset.percent = String(Math.floor(allDone ? 100 : p));
    overall.dataset.done = String(allDone);
  }

  // drag and drop
  ['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', (e) => { if (e.dataTransfer && e.dataTransfer.files) addFiles(e.dataTransfer.files); });
  fileInput.addEventListener('change', () => { addFiles(fileInput.files); fileInput.value = ''; });

  pauseBtn.addEventListener('click', () => {
    if (current) current.pause();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (running) return;
    fieldError(title, null);
    replace(status);
    if (!items.length) { replace(filesError, notice('error', 'Add at least one audio file first.')); chooseBtn.focus(); return; }
    if (!title.value.trim()) { fieldError(title, 'Give the audiobook a title.'); title.focus(); return; }
    await run();
  });

  function setRunning(on) {
    running = on;
    submit.disabled = on;
    pauseBtn.hidden = !on;
    fileInput.disabled = on;
    list.querySelectorAll('button').forEach((b) => { b.hidden = on; });
  }

  async function run() {
    setRunning(true);
    submit.textContent = 'Uploading…';
    try {
      // 1. the upload session (reused when resuming)
      const total = items.reduce((a, it) => a + it.file.size, 0);
      // The session was made for a number of files: the same set reuses it.
      const sameFiles = pending && pending.files && pending.files.length === items.length && items.every((it) => pending.files.some((f) => f.key === it.key));
      if (!pending || !pending.upload_id || !sameFiles) {
        const s = await post('/api/v1/uploads', { upload_type: items.length > 1 ? 'multi' : 'single', total_files: items.length, total_size_bytes: total });
        const id = pick(s, 'upload_id', 'id');
        if (id === undefined) throw new ApiError({ status: 200, code: 'bad_response', message: 'The server did not return an upload id.' });
        pending = { owner: owner(), upload_id: id, started: new Date().toISOString(), files: [], idem: randomKey() };
        items.forEach((it) => { it.url = null; it.done = false; });
      } else {
        // Resuming: a file the server already has in full (its last chunk
        // landed just before the page went away) is not sent again.
        try {
          const sess = await get(`/api/v1/uploads/${encodeURIComponent(pending.upload_id)}`);
          const have = listIn(sess, 'files');
          items.forEach((it) => {
            if (!it.done && have.some((f) => pick(f, 'file_name', 'name') === it.file.name && Number(pick(f, 'file_size_bytes', 'size_bytes', 'size')) === it.file.size)) it.done = true;
          });
        } catch { /* the tus HEAD below finds out too */ }
      }
      pending.files = items.map((it) => ({ key: it.key, name: it.file.name, size: it.file.size, url: it.url, done: it.done }));
      saveMeta();
      replace(resumeBox);
      // 2. the files, one after another
      for (const it of items) {
        if (destroyed) return;
        if (it.done) { paintItem(it); continue; }
        it.error = null;
        replace(it.err);
        const rec = pending.files.find((f) => f.key === it.key);
        const tus = new TusUpload({
          endpoint: `/api/v1/uploads/${encodeURIComponent(pending.upload_id)}/tus`,
          file: it.file, token: session.token, url: it.url,
          onUrl: (u) => { it.url = u; rec.url = u; savePending(pending); },
          onProgress: () => { paintItem(it); paintOverall(); },
          onState: (st, info) => {
            if (st === 'retrying' && info && info.wait) paintItem(it, `connection problem, retrying in ${Math.ceil(info.wait / 1000)} s`);
            else paintItem(it);
          },
        });
        it.tus = tus;
        current = tus;
        try {
          await tus.start();
        } catch (e) {
          current = null;
          if (e instanceof PausedError) {
            paintItem(it, 'paused');
            replace(status, notice('info', 'Upload paused.', 'Press “Resume upload” to continue from where it stopped. You can also close the page: adding the same files later resumes too.'));
            submit.textContent = 'Resume upload';
            announce('Upload paused');
            return;
          }
          it.error = e;
          lastNetworkFailure = e instanceof ApiError && (e.code === 'network' || e.status >= 500);
          const refused = e instanceof ApiError && e.status >= 400 && e.status < 500;
          if (refused) {
            // The server refused the file itself (not audio, too large): its
            // slot is gone, so nothing of it is stored.
            tus.offset = 0;
            it.url = null; rec.url = null; savePending(pending);
            paintItem(it, 'refused');
            replace(it.err, errorBox(e, `Could not upload ${it.file.name}`, 'Resumable (tus) uploading'));
            submit.textContent = 'Upload and create audiobook';
            replace(status, notice('error', `${it.file.name} was refused.`, 'Remove it (or replace it with a good file), then press “Upload and create audiobook” again.'));
          } else {
            paintItem(it);
            replace(it.err, errorBox(e, `Could not upload ${it.file.name}`, 'Resumable (tus) uploading'));
            submit.textContent = 'Try again';
            replace(status, notice('error', 'The upload stopped.', 'See the message next to the file. Press “Try again” to continue from where it stopped.'));
          }
          paintOverall();
          return;
        }
        current = null;
        it.done = true;
        rec.done = true;
        savePending(pending);
        paintItem(it);
        paintOverall();
        announce(`${it.file.name} uploaded`);
      }
      // 3. the audiobook
      submit.textContent = 'Creating audiobook…';
      // The same Idempotency-Key for every try with this upload: if an answer
      // is lost on the way back, trying again cannot make a second audiobook.
      // The key includes a hash of the body, so a corrected form is a new request.
      if (!pending.idem) { pending.idem = randomKey(); savePending(pending); }
      const meta = {
        upload_id: pending.upload_id, title: title.value.trim(), author: author.value.trim(),
        description: desc.value.trim(), language: lang.value, is_public: isPublic.checked,
      };
      const book = await post('/api/v1/audiobooks', meta, { headers: { 'Idempotency-Key': `${pending.idem}-${fnv(JSON.stringify(meta))}` } });
      const bookId = pick(book, 'audiobook_id', 'id');
      pending.created = bookId;
      savePending(null);
      pending = null;
      submit.textContent = 'Upload and create audiobook';
      const jobs = pick(book, 'jobs_created', 'total_jobs');
      replace(status, notice('ok', 'The audiobook was created.',
        jobs !== undefined ? `${jobs} processing job${jobs === 1 ? '' : 's'} started.` : null,
        h('p', null, h('a', { href: `#/audiobooks/${encodeURIComponent(bookId)}`, id: 'open-book' }, 'Open the audiobook'))));
      announce('The audiobook was created.');
      if (!destroyed) setTimeout(() => { if (!destroyed) location.hash = `/audiobooks/${encodeURIComponent(bookId)}`; }, 900);
    } catch (e) {
      submit.textContent = pending && pending.files && pending.files.every((f) => f.done) ? 'Create audiobook' : 'Try again';
      const where = e instanceof ApiError && /audiobooks/.test(e.path || '') ? 'Could not create the audiobook' : 'Could not start the upload';
      if (e instanceof ApiError && e.code === 'validation_failed' && /title/i.test(e.serverMessage)) fieldError(title, explain(e).detail || 'The title was not accepted.');
      replace(status, errorBox(e, where, where.includes('audiobook') ? 'Creating audiobooks' : 'Uploading'));
    } finally {
      current = null;
      setRunning(false);
    }
  }

  // Back online after the retries gave up: carry on by itself.
  const onOnline = () => {
    if (!running && lastNetworkFailure && items.length && !destroyed) {
      lastNetworkFailure = false;
      replace(status, notice('info', 'The connection is back; continuing the upload.'));
      run();
    }
  };
  window.addEventListener('online', onOnline);

  // The form is kept with the unfinished upload, so a reload loses nothing.
  const fields = { title, author, description: desc, language: lang };
  const saveMeta = () => {
    if (!pending) return;
    pending.meta = Object.fromEntries(Object.entries(fields).map(([k, el]) => [k, el.value]));
    pending.meta.is_public = isPublic.checked;
    savePending(pending);
  };
  form.addEventListener('input', saveMeta);
  form.addEventListener('change', saveMeta);
  if (pending && pending.meta) {
    for (const [k, el] of Object.entries(fields)) if (typeof pending.meta[k] === 'string') el.value = pending.meta[k];
    isPublic.checked = !!pending.meta.is_public;
  }

  showResume();
  return () => { destroyed = true; window.removeEventListener('online', onOnline); if (current) current.pause(); };
}

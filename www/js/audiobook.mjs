// audiobook.mjs - one audiobook: metadata and tags, its jobs with live
// progress (polled every 1.5 s while any job is waiting, pending or running;
// stopped when all are idle), chapters with an audio player, the summary
// (each sentence plays from its time), the transcript with read-along (the
// word being spoken is highlighted; click a word or a segment time to seek)
// and downloads of SRT, VTT, text and audio.
import { get, del, post, put, blob, pick, listIn, seconds, tagsOf, percentOf, ACTIVE, ApiError } from './api.mjs';
import { h, replace, errorBox, notice, badge, progressBar, fmtClock, fmtDuration, fmtWhen, fmtBytes, poller, saveBlob, announce, explain, unavailableBox, field, fieldError } from './ui.mjs';
import { ReadAlong, parseTranscript } from './readalong.mjs';

const POLL_MS = 1500;
const AUTOLOAD_MAX = 64e6;

export async function render(main, [id], query) {
  const base = `/api/v1/audiobooks/${encodeURIComponent(id)}`;
  let book;
  try {
    book = await get(base);
  } catch (e) {
    replace(main, h('h1', null, 'Audiobook'), errorBox(e, 'Could not load this audiobook', 'Audiobooks', () => window.dispatchEvent(new HashChangeEvent('hashchange'))), h('p', null, h('a', { href: '#/library' }, 'Back to the library')));
    return null;
  }
  book = pick(book, 'audiobook') || book;

  const head = h('div');
  const jobsBox = h('div', { id: 'jobs', 'aria-live': 'off' });
  const chaptersBox = h('div', { id: 'chapters' });
  const audio = h('audio', { controls: true, preload: 'metadata', id: 'player', 'aria-label': 'Audiobook player' });
  const audioMsg = h('div', { id: 'audio-msg', 'aria-live': 'polite' });
  const nowPlaying = h('p', { class: 'small muted', id: 'now-playing' });
  const summaryBox = h('div', { id: 'summary' });
  const transcriptBox = h('div', { id: 'transcript-box' });
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const dlBox = h('div', { id: 'downloads' });
  const dlMsg = h('div', { id: 'download-msg', 'aria-live': 'polite' });

  replace(main,
    head,
    h('div', { class: 'grid2' },
      h('div', null,
        h('section', { class: 'card player', 'aria-labelledby': 'player-h' }, h('h2', { id: 'player-h' }, 'Listen'), nowPlaying, audio, audioMsg),
        h('section', { class: 'card', 'aria-labelledby': 'tr-h' },
          h('div', { class: 'row spread' }, h('h2', { id: 'tr-h' }, 'Transcript'), h('label', { class: 'inline small', for: 'follow' }, follow, 'Follow along')),
          h('p', { class: 'small muted' }, 'The highlighted word is the one being spoken. Click a word, or a time, to listen from there.'),
          transcriptBox),
        h('section', { class: 'card', 'aria-labelledby': 'sum-h' }, h('h2', { id: 'sum-h' }, 'Summary'), summaryBox)),
      h('div', null,
        h('section', { class: 'card', 'aria-labelledby': 'jobs-h' }, h('h2', { id: 'jobs-h' }, 'Processing'), jobsBox),
        h('section', { class: 'card', 'aria-labelledby': 'ch-h' }, h('h2', { id: 'ch-h' }, 'Chapters'), chaptersBox),
        h('section', { class: 'card', 'aria-labelledby': 'dl-h' }, h('h2', { id: 'dl-h' }, 'Downloads'), dlBox, dlMsg))));

  let chapters = [];
  let currentCh = null;
  let audioUrl = null;
  let audioAbort = null;
  let destroyed = false;
  const ra = new ReadAlong(audio, transcriptBox, () => follow.checked);
  let transcriptLoadedFor = null;
  let pendingSeek = null;

  function chNum(ch, i) { return pick(ch, 'number', 'index', 'position', 'chapter_number') ?? i + 1; }

  function drawHead() {
    const tags = tagsOf(book);
    const st = pick(book, 'status') || 'unknown';
    // someone else's public book: readable, not changeable (the API says 403)
    const mine = pick(book, 'can_edit') !== false;
    const dur = seconds(book, 'total_duration_seconds');
    const delBtn = h('button', { type: 'button', class: 'danger small', id: 'delete-book' }, 'Delete');
    const delMsg = h('div', { 'aria-live': 'polite' });
    const editBtn = h('button', { type: 'button', class: 'secondary small', id: 'edit-book', 'aria-expanded': 'false', 'aria-controls': 'edit-form' }, 'Edit details');
    const editBox = h('div', { id: 'edit-box' });
    editBtn.addEventListener('click', () => {
      const open = editBtn.getAttribute('aria-expanded') === 'true';
      editBtn.setAttribute('aria-expanded', String(!open));
      if (open) { replace(editBox); return; }
      replace(editBox, editForm(() => { editBtn.setAttribute('aria-expanded', 'false'); replace(editBox); }));
      editBox.querySelector('input').focus();
    });
    delBtn.addEventListener('click', async () => {
      if (!window.confirm(`Delete “${pick(book, 'title') || 'this audiobook'}” and its files? Its running jobs are cancelled.`)) return;
      delBtn.disabled = true;
      try {
        await del(base);
        announce('Audiobook deleted');
        location.hash = '/library';
      } catch (e) { replace(delMsg, errorBox(e, 'Could not delete it', 'Deleting audiobooks')); delBtn.disabled = false; }
    });
    replace(head,
      h('p', { class: 'small' }, h('a', { href: '#/library' }, '← Library')),
      h('div', { class: 'page-head' }, h('h1', { id: 'book-title' }, pick(book, 'title') || '(untitled)'), h('div', { class: 'row' }, badge(st), mine ? editBtn : null, mine ? delBtn : null)),
      h('p', { class: 'muted' }, [pick(book, 'author') || 'Unknown author', pick(book, 'language') ? `language ${pick(book, 'language')}` : null,
        dur !== null ? fmtDuration(dur) : null, pick(book, 'is_public') ? 'public' : 'private', pick(book, 'created_at') ? `added ${fmtWhen(pick(book, 'created_at'))}` : null].filter(Boolean).join(' · ')),
      pick(book, 'description') ? h('p', null, pick(book, 'description')) : null,
      tags.length ? h('ul', { class: 'tags', 'aria-label': 'Tags', id: 'book-tags' }, tags.map((t) => h('li', { class: 'tag', title: t.score !== null ? `score ${Number(t.score).toFixed(2)}` : null }, t.name))) : h('p', { class: 'small muted', id: 'book-tags' }, 'No tags yet; they appear after transcription.'),
      st === 'failed' && pick(book, 'error') ? notice('error', 'Processing failed.', pick(book, 'error')) : null,
      delMsg, editBox);
  }

  // Title, author, description, language and visibility, saved with PUT.
  function editForm(close) {
    const t = h('input', { type: 'text', id: 'edit-title', maxlength: '255', value: pick(book, 'title') || '' });
    const a = h('input', { type: 'text', id: 'edit-author', maxlength: '255', value: pick(book, 'author') || '' });
    const d = h('textarea', { id: 'edit-description', rows: '3', maxlength: '10000' });
    d.value = pick(book, 'description') || '';
    const l = h('input', { type: 'text', id: 'edit-language', maxlength: '16', value: pick(book, 'language') || 'en' });
    const pub = h('input', { type: 'checkbox', id: 'edit-public', checked: !!pick(book, 'is_public') });
    const msg = h('div', { 'aria-live': 'polite' });
    const f = h('form', { class: 'card', id: 'edit-form', novalidate: true },
      h('h2', null, 'Edit details'),
      h('div', { class: 'fields2' }, field('Title', t).wrap, field('Author', a).wrap),
      field('Description', d).wrap,
      h('div', { class: 'fields2' }, field('Language code', l, 'For example en, hi, de.').wrap,
        h('div', { class: 'field' }, h('label', { class: 'inline', for: 'edit-public' }, pub, 'Public'))),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')), msg);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      [t, l].forEach((x) => fieldError(x, null));
      if (!t.value.trim()) { fieldError(t, 'The title cannot be empty.'); t.focus(); return; }
      try {
        await put(base, { title: t.value.trim(), author: a.value.trim(), description: d.value.trim(), language: l.value.trim(), is_public: pub.checked });
        announce('Saved');
        await refreshBook();
      } catch (e) {
        const m = (e instanceof ApiError && e.serverMessage) || '';
        if (e instanceof ApiError && e.status === 422 && /language/.test(m)) { fieldError(l, m); l.focus(); }
        else if (e instanceof ApiError && e.status === 422 && /title/.test(m)) { fieldError(t, m); t.focus(); }
        else replace(msg, errorBox(e, 'Could not save', 'Editing audiobooks'));
      }
    });
    return f;
  }

  // ---- chapters and audio -------------------------------------------------
  function drawChapters() {
    chapters = listIn(pick(book, 'chapters') || [], 'chapters');
    if (!chapters.length) { replace(chaptersBox, h('p', { class: 'muted' }, 'No chapters listed.')); return; }
    replace(chaptersBox, h('ol', { class: 'chapters', id: 'chapter-list' }, chapters.map((ch, i) => {
      const n = chNum(ch, i);
      const dur = seconds(ch);
      const btn = h('button', { type: 'button', class: 'small secondary', 'aria-current': currentCh === i ? 'true' : 'false', 'aria-label': `Play chapter ${n}: ${pick(ch, 'title', 'file_name') || ''}` }, currentCh === i ? 'Current' : 'Play');
      btn.addEventListener('click', () => selectChapter(i, 0, true));
      return h('li', null, h('span', null, h('strong', null, `${n}. `), pick(ch, 'title', 'file_name', 'name') || `Chapter ${n}`, h('span', { class: 'muted small' }, dur !== null ? ` · ${fmtClock(dur)}` : '')), btn);
    })));
  }

  function audioPaths(ch, i) {
    const n = chNum(ch, i);
    const paths = [];
    const u = pick(ch, 'audio_url', 'url', 'download_url');
    if (typeof u === 'string' && u.startsWith('/')) paths.push(u);
    const cid = pick(ch, 'id', 'chapter_id');
    paths.push(`${base}/chapters/${encodeURIComponent(n)}/audio`);
    if (cid !== undefined && String(cid) !== String(n)) paths.push(`${base}/chapters/${encodeURIComponent(cid)}/audio`);
    if (chapters.length === 1) paths.push(`${base}/audio`);
    return paths;
  }

  // Tries the places a resource may live; reports the first one's error
  // when none has it (that is the path the server should offer).
  async function firstOk(paths, fn) {
    let first;
    for (const p of paths) {
      try { return await fn(p); } catch (e) {
        if (!first) first = e;
        if (!(e instanceof ApiError) || !(e.unavailable || e.status === 404)) throw e;
      }
    }
    throw first;
  }

  async function selectChapter(i, at = 0, play = false) {
    if (i < 0 || i >= chapters.length) return;
    const changed = currentCh !== i;
    currentCh = i;
    drawChapters();
    const ch = chapters[i];
    replace(nowPlaying, `Chapter ${chNum(ch, i)}: ${pick(ch, 'title', 'file_name') || ''}`);
    if (!changed && audioUrl) { seek(at, play); return; }
    if (audioAbort) audioAbort.abort();
    loadTranscript(i);
    // Big files are fetched whole (the token cannot ride on <audio src>), so
    // only when asked for.
    const size = Number(pick(ch, 'size_bytes', 'file_size_bytes')) || 0;
    if (!play && size > AUTOLOAD_MAX) {
      const b = h('button', { type: 'button', class: 'secondary small', id: 'load-audio' }, `Load the audio (${fmtBytes(size)})`);
      b.addEventListener('click', () => { audioUrl = null; currentCh = null; selectChapter(i, at, true); });
      if (audioUrl) { URL.revokeObjectURL(audioUrl); audioUrl = null; audio.removeAttribute('src'); }
      replace(audioMsg, h('p', null, b));
      return;
    }
    audioAbort = new AbortController();
    const signal = audioAbort.signal;
    pendingSeek = { at, play };
    replace(audioMsg, h('p', { class: 'small muted' }, 'Loading the audio…'));
    try {
      const b = await firstOk(audioPaths(ch, i), (p) => blob(p, {
        signal,
        onProgress: (l, t) => { if (t) replace(audioMsg, h('p', { class: 'small muted' }, `Loading the audio… ${Math.floor((l / t) * 100)}%`)); },
      }));
      if (signal.aborted || destroyed) return;
      if (audioUrl) URL.revokeObjectURL(audioUrl);
      audioUrl = URL.createObjectURL(b);
      audio.src = audioUrl;
      audio.hidden = false;
      replace(audioMsg);
      audio.addEventListener('loadedmetadata', () => { if (pendingSeek) { seek(pendingSeek.at, pendingSeek.play); pendingSeek = null; } }, { once: true });
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      audio.hidden = true;
      replace(audioMsg, errorBox(e, 'Could not load the audio', 'Audio playback'));
    }
  }

  function seek(at, play) {
    if (!audio.src) { pendingSeek = { at, play }; return; }
    try { audio.currentTime = Math.max(0, Number(at) || 0); } catch { /* not seekable yet */ }
    ra.update();
    if (play) audio.play().catch(() => {});
  }

  // Times from search and summaries are seconds in the whole audiobook (the
  // transcript of the book offsets each chapter by the ones before it): find
  // the chapter and the time inside it from the chapter durations. A time
  // smaller than its chapter's start is taken as already chapter-relative.
  function chapterStart(i) {
    let off = 0;
    for (let k = 0; k < i; k++) {
      const d = seconds(chapters[k]);
      if (d === null) return null;
      off += d;
    }
    return off;
  }
  function seekBook(bt, chRef, play) {
    let i = chRef !== undefined && chRef !== null ? chapterIndexFor(chRef) : -1;
    if (i < 0) {
      i = 0;
      for (let k = 0; k < chapters.length; k++) { const st = chapterStart(k); if (st !== null && bt >= st) i = k; }
    }
    const off = chapterStart(i);
    const t = off !== null && bt >= off ? bt - off : bt;
    selectChapter(i, t, play);
  }

  // quire's search windows and summary sentences give a chapter number and
  // the time inside that chapter; without a chapter, the time is in the book.
  function seekTo(time, chRef, play) {
    if (chRef !== undefined && chRef !== null && String(chRef) !== '0') selectChapter(chapterIndexFor(chRef), time, play);
    else seekBook(time, null, play);
  }

  // Finds the chapter index for a search hit or summary sentence.
  function chapterIndexFor(ref) {
    if (ref === undefined || ref === null) return currentCh ?? 0;
    const byId = chapters.findIndex((c) => String(pick(c, 'id', 'chapter_id')) === String(ref));
    if (byId >= 0 && typeof ref === 'string' && !/^\d+$/.test(ref)) return byId;
    const byNum = chapters.findIndex((c, i) => String(chNum(c, i)) === String(ref));
    if (byNum >= 0) return byNum;
    return byId >= 0 ? byId : 0;
  }

  // ---- transcript -----------------------------------------------------------
  async function loadTranscript(i) {
    const ch = chapters[i];
    if (!ch) return;
    const n = chNum(ch, i);
    if (transcriptLoadedFor === i) return;
    replace(transcriptBox, h('p', { class: 'loading' }, 'Loading the transcript…'));
    const paths = [`${base}/transcript?format=json&chapter=${encodeURIComponent(n)}`, `${base}/chapters/${encodeURIComponent(n)}/transcript?format=json`];
    try {
      const data = await firstOk(paths, (p) => get(p));
      const parsed = parseTranscript(data);
      if (!parsed.words.length && !parsed.segments.length) { replace(transcriptBox, h('p', { class: 'muted' }, 'The transcript is empty: no speech was recognised.')); transcriptLoadedFor = i; return; }
      ra.load(parsed, (t) => seek(t, true));
      transcriptLoadedFor = i;
    } catch (e) {
      transcriptLoadedFor = null;
      if (e instanceof ApiError && e.status === 409) replace(transcriptBox, h('p', { class: 'muted', id: 'transcript-wait' }, 'The transcript is not ready yet. It appears here when transcription finishes.'));
      else if (e instanceof ApiError && (e.unavailable || e.status === 404)) replace(transcriptBox, unavailableBox('The transcript', e));
      else replace(transcriptBox, errorBox(e, 'Could not load the transcript'));
    }
  }

  // ---- summary ----------------------------------------------------------------
  // The stored summary: {stage, book: {text, sentences}, chapters: [{chapter,
  // text, sentences}]}, each sentence {text, chapter, start, end} with its
  // time inside its chapter. Plainer shapes (a string, {text, sentences})
  // are read too.
  function sentenceList(sentences, listId) {
    return h('ol', { class: 'summary-sentences', id: listId }, sentences.map((x) => {
      if (typeof x === 'string') return h('li', null, x);
      const start = Number(pick(x, 'start', 'start_time', 'time', 'offset'));
      const chRef = pick(x, 'chapter', 'chapter_number', 'chapter_index', 'chapter_id');
      const label = pick(x, 'text', 'sentence') || '';
      if (!Number.isFinite(start)) return h('li', null, label);
      const btn = h('button', { type: 'button', 'aria-label': `Play from ${fmtClock(start)}${chRef !== undefined ? ` in chapter ${chRef}` : ''}: ${label}` }, label);
      btn.addEventListener('click', () => seekTo(start, chRef, true));
      return h('li', null, btn, h('span', { class: 'ts' }, `${chapters.length > 1 && chRef !== undefined ? `ch. ${chRef}, ` : ''}${fmtClock(start)}`));
    }));
  }

  function drawSummary() {
    const s = pick(book, 'summary');
    const whole = s && typeof s === 'object' ? (pick(s, 'book') || s) : null;
    const sentences = listIn(pick(book, 'summary_sentences') || (whole ? pick(whole, 'sentences') : null) || [], 'sentences');
    const text = typeof s === 'string' ? s : whole ? pick(whole, 'text', 'summary') : null;
    const perChapter = s && typeof s === 'object' && Array.isArray(s.chapters) ? s.chapters : [];
    const stage = (s && typeof s === 'object' && pick(s, 'stage')) || pick(book, 'summary_stage');
    if (!sentences.length && !text) {
      replace(summaryBox, h('p', { class: 'muted' }, ACTIVE.has(pick(book, 'status')) || pick(book, 'status') === 'processing' ? 'The summary appears after the first chapter is transcribed.' : 'No summary.'));
      return;
    }
    replace(summaryBox,
      stage === 'early' ? h('p', { class: 'small muted' }, 'An early summary from the first chapter; it is redone when every chapter is transcribed.') : null,
      sentences.length ? h('p', { class: 'small muted' }, 'Click a sentence to hear it.') : null,
      sentences.length ? sentenceList(sentences, 'summary-sentences') : h('p', null, text),
      perChapter.length > 1 ? perChapter.map((c, i) => h('details', { class: 'chapter-summary' },
        h('summary', null, `Chapter ${pick(c, 'chapter') ?? i + 1}`),
        listIn(pick(c, 'sentences') || [], 'sentences').length ? sentenceList(listIn(c.sentences, 'sentences'), null) : h('p', null, pick(c, 'text') || '—'))) : null);
  }

  // ---- downloads ------------------------------------------------------------
  function drawDownloads() {
    const fname = (pick(book, 'title') || `audiobook-${id}`).replace(/[^\w.-]+/g, '_').slice(0, 80);
    const mk = (label, paths, name) => {
      const b = h('button', { type: 'button', class: 'small secondary' }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        replace(dlMsg, h('p', { class: 'small muted' }, `Preparing ${label}…`));
        try {
          const data = await firstOk(paths, (p) => blob(p));
          saveBlob(data, name);
          replace(dlMsg, h('p', { class: 'small muted' }, `${label} downloaded.`));
        } catch (e) {
          if (e instanceof ApiError && e.status === 409) replace(dlMsg, notice('info', `${label} is not ready yet.`, 'It can be downloaded once transcription has finished.'));
          else replace(dlMsg, errorBox(e, `Could not download ${label}`, label));
        } finally { b.disabled = false; }
      });
      return b;
    };
    replace(dlBox, h('div', { class: 'downloads' },
      mk('Subtitles (SRT)', [`${base}/transcript?format=srt`], `${fname}.srt`),
      mk('Subtitles (VTT)', [`${base}/transcript?format=vtt`], `${fname}.vtt`),
      mk('Transcript (text)', [`${base}/transcript?format=txt`], `${fname}.txt`),
      mk('Transcript (JSON)', [`${base}/transcript?format=json`], `${fname}.json`),
      chapters.map((ch, i) => mk(`Audio, chapter ${chNum(ch, i)}`, audioPaths(ch, i), `${fname}-${chNum(ch, i)}${extOf(ch)}`))));
  }
  function extOf(ch) {
    const m = String(pick(ch, 'file_name', 'title') || '').match(/\.[a-z0-9]{2,4}$/i);
    return m ? m[0] : '.audio';
  }

  // ---- jobs -----------------------------------------------------------------
  let jobsIdleSince = null;
  let seenDone = null;              // ids of completed jobs at the last poll
  let transcriptTriedDone = null;   // chapter whose transcript was fetched after its job completed
  async function refreshJobs() {
    // a public book's jobs are its owner's: the API answers others 403
    if (pick(book, 'can_edit') === false) {
      replace(jobsBox, h('p', { class: 'muted', id: 'jobs-owner-only' }, 'Only its owner sees how this audiobook is processed.'));
      return false;
    }
    let data;
    try {
      data = await get(`${base}/jobs`);
    } catch (e) {
      replace(jobsBox, errorBox(e, 'Could not load the jobs', 'Job progress'));
      return !(e instanceof ApiError && (e.unavailable || e.status === 404 || e.status === 401 || e.status === 403));
    }
    const jobs = listIn(data, 'jobs');
    const anyActive = jobs.some((j) => ACTIVE.has(pick(j, 'status')));
    // A job that has just completed changes the book (durations after
    // transcription, summary, tags): look again, and load the transcript
    // once the current chapter's transcription is done.
    const doneNow = jobs.filter((j) => pick(j, 'status') === 'completed').map((j) => String(pick(j, 'id', 'job_id')));
    const fresh = seenDone !== null && doneNow.some((x) => !seenDone.has(x));
    seenDone = new Set(doneNow);
    if (fresh) refreshBook();
    if (currentCh !== null && transcriptLoadedFor !== currentCh && transcriptTriedDone !== currentCh) {
      const n = String(chNum(chapters[currentCh] || {}, currentCh));
      const tr = jobs.find((j) => pick(j, 'job_type', 'type') === 'transcribe' && String(pick(j, 'chapter') ?? '1') === n);
      if (tr && pick(tr, 'status') === 'completed') { transcriptTriedDone = currentCh; loadTranscript(currentCh); }
    }
    const overallP = percentOf(pick(data, 'progress'), null, true);
    const total = pick(data, 'total_jobs') ?? jobs.length;
    const doneN = pick(data, 'completed_jobs') ?? jobs.filter((j) => j.status === 'completed').length;
    const failedN = pick(data, 'failed_jobs') ?? jobs.filter((j) => j.status === 'failed').length;
    const overall = progressBar('Overall processing progress');
    overall.set(anyActive ? overallP : total ? (doneN / total) * 100 : 100, { done: !anyActive && !failedN, failed: !!failedN && !anyActive });
    const rows = jobs.map((j) => {
      const st = pick(j, 'status') || 'unknown';
      const p = percentOf(pick(j, 'progress'), st, true);
      const bar = progressBar(`${pick(j, 'job_type', 'type')} progress`);
      bar.set(p, { done: st === 'completed', failed: st === 'failed' });
      const jid = pick(j, 'id', 'job_id');
      const actions = [];
      if (st === 'failed' || st === 'cancelled') actions.push(jobButton('Retry', () => post(`/api/v1/jobs/${encodeURIComponent(jid)}/retry`, {})));
      if (ACTIVE.has(st)) actions.push(jobButton('Cancel', () => del(`/api/v1/jobs/${encodeURIComponent(jid)}`), 'danger'));
      const chapter = pick(j, 'chapter_number', 'chapter_index', 'chapter');
      const msg = pick(j, 'progress_message', 'message');
      return h('li', { dataset: { jobId: String(jid), status: st, type: String(pick(j, 'job_type', 'type')) } },
        h('div', { class: 'row spread' }, h('span', null, h('strong', null, pick(j, 'job_type', 'type') || 'job'), chapter !== undefined ? ` · chapter ${chapter}` : ''), h('span', { class: 'row' }, badge(st), actions)),
        bar,
        h('div', { class: 'progline' }, h('span', { class: 'pct' }, `${Math.floor(p)}%`), msg ? h('span', null, msg) : null,
          pick(j, 'started_at') ? h('span', null, `started ${fmtWhen(pick(j, 'started_at'))}`) : null,
          pick(j, 'completed_at', 'finished_at') ? h('span', null, `finished ${fmtWhen(pick(j, 'completed_at', 'finished_at'))}`) : null),
        pick(j, 'error') ? h('p', { class: 'field-error' }, `Error: ${pick(j, 'error')}`) : null);
    });
    replace(jobsBox,
      h('div', { id: 'jobs-overall', dataset: { active: String(anyActive) } }, overall,
        h('div', { class: 'progline' }, h('span', { class: 'pct' }, `${doneN} of ${total} jobs done`), failedN ? h('span', null, `${failedN} failed`) : null,
          h('span', null, anyActive ? 'updating live' : 'idle'))),
      jobs.length ? h('ul', { class: 'filelist', id: 'job-list' }, rows) : h('p', { class: 'muted' }, 'No jobs.'));
    if (!anyActive) {
      // Everything is idle: one last look at the book (summary, tags, durations), then stop.
      if (jobsIdleSince === null) { jobsIdleSince = Date.now(); await refreshBook(); }
      return false;
    }
    jobsIdleSince = null;
    return true;
  }

  function jobButton(label, fn, cls = 'secondary') {
    const b = h('button', { type: 'button', class: `small ${cls}` }, label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { await fn(); announce(`${label} requested`); jobsIdleSince = null; jobPoll.start(); } catch (e) {
        b.replaceWith(h('span', { class: 'field-error small' }, `${label} failed: ${explain(e).lead}`));
      }
    });
    return b;
  }

  async function refreshBook() {
    try {
      const b = await get(base);
      book = pick(b, 'audiobook') || b;
      drawHead();
      drawChapters();
      drawSummary();
      drawDownloads();
      if (currentCh !== null && transcriptLoadedFor === null) loadTranscript(currentCh);
    } catch { /* keep what is shown */ }
  }

  drawHead();
  drawChapters();
  drawSummary();
  drawDownloads();
  const jobPoll = poller(refreshJobs, POLL_MS).start();

  // Open at a moment: search results link here with ?bt=seconds in the book
  // (or ?t=seconds in the chapter) and &ch=chapter number or &chid=chapter id.
  const t = Number(query.get('t'));
  const bt = Number(query.get('bt'));
  const chRef = query.get('chid') || query.get('ch');
  if (chapters.length) {
    if (query.has('bt') && Number.isFinite(bt)) seekBook(bt, chRef || null, false);
    else selectChapter(chRef ? chapterIndexFor(chRef) : 0, Number.isFinite(t) ? t : 0, false);
  }

  return () => {
    destroyed = true;
    jobPoll.stop();
    ra.destroy();
    if (audioAbort) audioAbort.abort();
    audio.pause();
    if (audioUrl) URL.revokeObjectURL(audioUrl);
  };
}

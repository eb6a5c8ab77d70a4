// library.mjs - the Library page: the caller's audiobooks (status, duration,
// tags) with a status filter and a quick text filter, and a search box over
// what was said (GET /api/v1/search) whose results open the audiobook at the
// matching moment. Refreshes itself every 5 s while a book is processing.
import { get, pick, listIn, seconds, tagsOf, ApiError } from './api.mjs';
import { h, replace, errorBox, notice, badge, fmtDuration, fmtClock, fmtWhen, field, poller, announce } from './ui.mjs';

const PER_PAGE = 50;
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;

export function bookId(b) { return pick(b, 'audiobook_id', 'id'); }

export async function render(main, params, query) {
  const q = h('input', { type: 'search', id: 'search-q', name: 'q', placeholder: 'a phrase you remember', autocomplete: 'off', value: query.get('q') || '' });
  const searchBtn = h('button', { type: 'submit', id: 'search-btn' }, 'Search');
  const results = h('div', { id: 'search-results', 'aria-live': 'polite' });
  const searchForm = h('form', { role: 'search', id: 'search-form', class: 'card' },
    h('h2', null, 'Search what was said'),
    h('div', { class: 'row' }, h('div', { style: { flex: '1 1 16rem' } }, field('Words or a phrase', q).wrap), h('div', null, searchBtn)),
    results);

  const statusSel = h('select', { id: 'filter-status' },
    ['', 'processing', 'ready', 'failed'].map((s) => h('option', { value: s }, s ? s[0].toUpperCase() + s.slice(1) : 'All')));
  statusSel.value = query.get('status') || '';
  const textFilter = h('input', { type: 'search', id: 'filter-text', placeholder: 'title, author or tag', autocomplete: 'off' });
  const listBox = h('div', { id: 'book-list', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading your audiobooks…'));
  const more = h('button', { type: 'button', class: 'secondary', id: 'load-more', hidden: true }, 'Load more');

  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Library'), h('a', { class: 'button', href: '#/upload' }, 'Upload an audiobook')),
    searchForm,
    h('section', { class: 'card', 'aria-labelledby': 'books-h' },
      h('h2', { id: 'books-h' }, 'Your audiobooks'),
      h('div', { class: 'fields2' }, field('Status', statusSel).wrap, field('Filter', textFilter).wrap),
      listBox, more));

  let books = [];
  let page = 1;
  let lastError = null;

  async function load(reset) {
    if (reset) { page = 1; }
    const qs = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    if (statusSel.value) qs.set('status', statusSel.value);
    try {
      const data = await get(`/api/v1/audiobooks?${qs}`);
      const got = listIn(data, 'audiobooks');
      books = reset ? got : books.concat(got);
      const hasMore = pick(data, 'has_more') ?? (pick(data, 'total') !== undefined ? books.length < pick(data, 'total') : got.length >= PER_PAGE);
      more.hidden = !hasMore;
      lastError = null;
      draw();
    } catch (e) {
      lastError = e;
      more.hidden = true;
      replace(listBox, errorBox(e, 'Could not load your audiobooks', 'The audiobook library', () => { replace(listBox, h('p', { class: 'loading' }, 'Loading your audiobooks…')); load(true); }));
      return false;
    }
    return true;
  }

  function draw() {
    const needle = textFilter.value.trim().toLowerCase();
    const shown = books.filter((b) => {
      if (!needle) return true;
      const hay = [pick(b, 'title'), pick(b, 'author'), ...tagsOf(b).map((t) => t.name)].join(' ').toLowerCase();
      return hay.includes(needle);
    });
    if (!books.length) {
      replace(listBox, h('p', { class: 'muted' }, statusSel.value ? `No audiobooks with status “${statusSel.value}”.` : 'No audiobooks yet. ', statusSel.value ? null : h('a', { href: '#/upload' }, 'Upload your first one'), statusSel.value ? null : '.'));
      return;
    }
    if (!shown.length) { replace(listBox, h('p', { class: 'muted' }, `No audiobook matches “${textFilter.value}”.`)); return; }
    replace(listBox, h('ul', { class: 'booklist' }, shown.map((b) => {
      const id = bookId(b);
      const tags = tagsOf(b);
      const dur = seconds(b, 'total_duration_seconds');
      const st = pick(b, 'status') || 'unknown';
      return h('li', { class: 'book', dataset: { id: String(id), status: st } },
        h('h3', null, h('a', { href: `#/audiobooks/${encodeURIComponent(id)}` }, pick(b, 'title') || '(untitled)')),
        h('div', { class: 'meta' }, pick(b, 'author') || 'Unknown author'),
        h('div', { class: 'row small facts' }, badge(st), h('span', { class: 'muted' }, dur !== null ? fmtDuration(dur) : 'length unknown'),
          pick(b, 'total_chapters', 'chapter_count') !== undefined ? h('span', { class: 'muted' }, plural(Number(pick(b, 'total_chapters', 'chapter_count')), 'chapter')) : null),
        tags.length ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, tags.slice(0, 8).map((t) => h('li', { class: 'tag' }, t.name))) : null,
        pick(b, 'created_at') ? h('div', { class: 'muted small' }, `Added ${fmtWhen(pick(b, 'created_at'))}`) : null);
    })));
  }

  statusSel.addEventListener('change', () => load(true));
  textFilter.addEventListener('input', draw);
  more.addEventListener('click', () => { page += 1; load(false); });

  searchForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = q.value.trim();
    if (!text) { replace(results, h('p', { class: 'field-error' }, 'Type some words to search for.')); q.focus(); return; }
    replace(results, h('p', { class: 'loading' }, 'Searching…'));
    searchBtn.disabled = true;
    try {
      const data = await get(`/api/v1/search?${new URLSearchParams({ q: text, limit: '20' })}`);
      const hits = listIn(data, 'results', 'hits', 'windows');
      if (!hits.length) { replace(results, h('p', { class: 'muted' }, `Nothing found for “${text}”.`)); announce('No results'); return; }
      replace(results, h('p', { class: 'muted small' }, `${hits.length} moment${hits.length === 1 ? '' : 's'} found.`), h('ol', { class: 'results', id: 'search-hits' }, hits.map((r) => {
        const id = pick(r, 'audiobook_id', 'audiobook');
        const start = Number(pick(r, 'start', 'start_time', 'start_s', 'start_seconds')) || 0;
        const end = Number(pick(r, 'end', 'end_time', 'end_s', 'end_seconds'));
        const ch = pick(r, 'chapter', 'chapter_number', 'chapter_index');
        const chId = pick(r, 'chapter_id');
        // A window gives its chapter and the time inside it; without a
        // chapter the time is in the whole book (the audiobook page finds the chapter).
        const hasCh = ch !== undefined && typeof ch !== 'object' && String(ch) !== '0';
        const qs = new URLSearchParams(hasCh ? { t: String(start) } : { bt: String(start) });
        if (ch !== undefined && typeof ch !== 'object' && String(ch) !== '0') qs.set('ch', String(ch));
        if (chId !== undefined) qs.set('chid', String(chId));
        const score = pick(r, 'score');
        const known = books.find((b) => String(bookId(b)) === String(id));
        return h('li', null,
          h('a', { href: `#/audiobooks/${encodeURIComponent(id)}?${qs}` }, `${pick(r, 'audiobook_title', 'title') || (known && pick(known, 'title')) || `Audiobook ${id}`}`,
            ch !== undefined && typeof ch !== 'object' && String(ch) !== '0' ? `, chapter ${ch}` : '', ` at ${fmtClock(start)}${Number.isFinite(end) ? `–${fmtClock(end)}` : ''}`),
          score !== undefined ? h('span', { class: 'muted small' }, ` · match ${Math.round(Number(score) * 100)}%`) : null,
          pick(r, 'text', 'snippet') ? h('p', { class: 'snippet small' }, `“${pick(r, 'text', 'snippet')}”`) : null);
      })));
      announce(`${hits.length} results`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'validation_failed') replace(results, notice('error', 'The search was not accepted.', e.serverMessage));
      else replace(results, errorBox(e, 'Could not search', 'Search'));
    } finally {
      searchBtn.disabled = false;
    }
  });

  await load(true);
  if (query.get('q')) searchForm.requestSubmit();
  // Keep statuses fresh while something is being processed.
  const p = poller(async () => {
    if (lastError || !books.some((b) => ['processing', 'pending', 'uploading'].includes(pick(b, 'status')))) return true;
    const keep = page;
    page = 1;
    const ok = await load(true);
    page = keep;
    return ok;
  }, 5000).start(false);
  return () => p.stop();
}

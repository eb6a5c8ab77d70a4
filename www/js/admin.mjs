// admin.mjs - the Admin page, in four tabs (#/admin/queue, workers, failed,
// users): queue counts per type and status with an SVG chart of throughput
// and backlog over the last hour; workers with heartbeat age (stale ones
// marked), jobs in hand, GPU, done/failed and average time; failed jobs with
// every attempt's error and Retry / Cancel; users and their tokens (create,
// revoke; a new token is shown once). Queue and workers refresh every 5 s.
import { get, post, del, pick, listIn, ApiError, session, serverNow } from './api.mjs';
import { h, replace, errorBox, notice, badge, fmtWhen, fmtDuration, parseTime, poller, field, fieldError, announce, explain } from './ui.mjs';
import { drawChart } from './chart.mjs';

const TABS = [['queue', 'Queue'], ['workers', 'Workers'], ['failed', 'Jobs'], ['users', 'Users and tokens']];
const STALE_S = 60;
const fmtSecs = (s) => (s < 10 ? `${s.toFixed(1)} s` : fmtDuration(s));
const STATUSES = ['waiting', 'pending', 'running', 'completed', 'failed', 'cancelled'];
const SAMPLES = 'quire.statsSamples';

export async function render(main, params) {
  const tab = TABS.some(([k]) => k === params[0]) ? params[0] : 'queue';
  const panel = h('div', { id: `panel-${tab}`, role: 'tabpanel', 'aria-labelledby': `tab-${tab}`, tabindex: '0' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Admin sections' }, TABS.map(([k, label]) => {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-selected': String(k === tab), 'aria-controls': `panel-${k}`, tabindex: k === tab ? '0' : '-1' }, label);
    b.addEventListener('click', () => { location.hash = `/admin/${k}`; });
    b.addEventListener('keydown', (e) => {
      const i = TABS.findIndex(([x]) => x === k);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % TABS.length;
      if (e.key === 'ArrowLeft') j = (i - 1 + TABS.length) % TABS.length;
      if (j !== null) { e.preventDefault(); location.hash = `/admin/${TABS[j][0]}`; setTimeout(() => document.getElementById(`tab-${TABS[j][0]}`)?.focus(), 50); }
    });
    return b;
  }));
  replace(main, h('div', { class: 'page-head' }, h('h1', null, 'Admin')), tabs, panel);
  if (tab === 'queue') return queueTab(panel);
  if (tab === 'workers') return workersTab(panel);
  if (tab === 'failed') return failedTab(panel);
  return usersTab(panel);
}

// ---- queue ------------------------------------------------------------------
// Rows [{type, counts: {status: n}, throughput, avg}] from the stats shapes.
export function readStats(data) {
  const rows = new Map();
  const row = (t) => { if (!rows.has(t)) rows.set(t, { type: t, counts: {}, throughput: null, avg: null }); return rows.get(t); };
  const take = (t, o) => {
    const r = row(t);
    const counts = pick(o, 'counts', 'by_status', 'statuses') || o;
    for (const s of STATUSES) if (counts && Number.isFinite(+counts[s])) r.counts[s] = +counts[s];
    const thr = pick(o, 'throughput_per_min', 'completed_last_hour', 'throughput', 'completed_per_minute');
    if (thr !== undefined && typeof thr !== 'object') r.throughput = { value: +thr, unit: pick(o, 'completed_last_hour') !== undefined && pick(o, 'throughput_per_min', 'throughput') === undefined ? 'last hour' : 'per min' };
    const avg = pick(o, 'avg_run_seconds', 'avg_run_time_s', 'average_run_seconds', 'avg_seconds', 'avg_run_time');
    if (avg !== undefined) r.avg = +avg;
  };
  const src = pick(data, 'by_type', 'types', 'queues', 'stats') ?? data;
  const rt = pick(data, 'run_time_last_24h', 'run_time');
  if (Array.isArray(src)) {
    for (const o of src) {
      const t = pick(o, 'type', 'job_type', 'name');
      if (t === undefined) continue;
      if (pick(o, 'status') !== undefined && pick(o, 'count') !== undefined) row(t).counts[o.status] = (row(t).counts[o.status] || 0) + +o.count;
      else take(t, o);
    }
  } else if (src && typeof src === 'object') {
    for (const [t, o] of Object.entries(src)) if (o && typeof o === 'object' && !Array.isArray(o) && !['history', 'series', 'totals', 'timeline', 'throughput'].includes(t)) take(t, o);
  }
  if (rt && typeof rt === 'object') {
    for (const [t, o] of Object.entries(rt)) {
      const r = row(t);
      if (Number.isFinite(+pick(o, 'avg_run_seconds'))) r.avg = +o.avg_run_seconds;
      if (Number.isFinite(+pick(o, 'avg_wait_seconds'))) r.wait = +o.avg_wait_seconds;
    }
  }
  return [...rows.values()];
}

// Server history [{t, throughput, backlog}] when the stats carry it.
function readHistory(data) {
  const hist = pick(data, 'history', 'series', 'timeline', 'last_hour');
  if (!Array.isArray(hist)) return null;
  return hist.map((p) => ({
    t: (parseTime(pick(p, 't', 'time', 'minute', 'at', 'ts')) || new Date()).getTime(),
    throughput: Number(pick(p, 'throughput', 'completed', 'done')) || 0,
    backlog: Number(pick(p, 'backlog', 'pending', 'queued')) || 0,
  })).filter((p) => Number.isFinite(p.t));
}

function loadSamples() {
  try { return JSON.parse(sessionStorage.getItem(SAMPLES) || '[]'); } catch { return []; }
}

function queueTab(panel) {
  const table = h('div', { id: 'queue-stats' }, h('p', { class: 'loading' }, 'Loading queue statistics…'));
  const chartBox = h('div', { id: 'queue-chart' });
  const note = h('p', { class: 'small muted', id: 'chart-note' });
  const chartTitle = h('h2', { id: 'chart-h' }, 'The last hour');
  replace(panel,
    h('section', { class: 'card' }, h('h2', null, 'Jobs by type and status'), table),
    h('section', { class: 'card' }, chartTitle,
      h('div', { class: 'legend', 'aria-hidden': 'true' }, h('span', null, h('span', { class: 'sw thr' }), 'throughput (jobs finished per minute)'), h('span', null, h('span', { class: 'sw backlog' }), 'backlog (jobs waiting or running)')),
      chartBox, note));
  let samples = loadSamples();

  async function tick() {
    let data;
    try { data = await get('/api/v1/admin/queue/stats'); } catch (e) {
      replace(table, errorBox(e, 'Could not load the queue statistics', 'Queue statistics'));
      replace(chartBox);
      return !(e instanceof ApiError && (e.unavailable || e.status === 401 || e.status === 403));
    }
    const rows = readStats(data);
    const cols = STATUSES.filter((s) => rows.some((r) => r.counts[s] !== undefined) || ['pending', 'running', 'completed', 'failed'].includes(s));
    const totals = Object.fromEntries(cols.map((s) => [s, rows.reduce((a, r) => a + (r.counts[s] || 0), 0)]));
    const th = pick(data, 'throughput');
    const thLine = th && typeof th === 'object' ? h('p', { class: 'small', id: 'throughput-line' },
      h('strong', null, 'Finished in the last hour: '), `${pick(th, 'completed_last_hour') ?? 0} completed`,
      pick(th, 'per_minute_last_hour') !== undefined ? ` (${Number(th.per_minute_last_hour).toFixed(2)} per minute)` : '',
      `, ${pick(th, 'failed_last_hour') ?? 0} failed, ${pick(th, 'cancelled_last_hour') ?? 0} cancelled`,
      pick(th, 'completed_last_minute') !== undefined ? `; ${th.completed_last_minute} in the last minute.` : '.') : null;
    const showThr = rows.some((r) => r.throughput);
    const showWait = rows.some((r) => r.wait !== undefined);
    replace(table, thLine, rows.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'stats-table' },
      h('caption', { class: 'sr-only' }, 'Jobs per type and status'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Type'), cols.map((s) => h('th', { scope: 'col', class: 'num' }, s)), showThr ? h('th', { scope: 'col', class: 'num' }, 'Throughput') : null, h('th', { scope: 'col', class: 'num' }, 'Avg run'), showWait ? h('th', { scope: 'col', class: 'num' }, 'Avg wait') : null)),
      h('tbody', null, rows.map((r) => h('tr', { dataset: { type: r.type } }, h('th', { scope: 'row' }, r.type), cols.map((s) => h('td', { class: 'num' }, String(r.counts[s] ?? 0))),
        showThr ? h('td', { class: 'num' }, r.throughput ? `${Number(r.throughput.value).toFixed(r.throughput.value < 10 ? 1 : 0)} ${r.throughput.unit}` : '—') : null,
        h('td', { class: 'num' }, r.avg !== null && Number.isFinite(r.avg) ? fmtSecs(r.avg) : '—'),
        showWait ? h('td', { class: 'num' }, r.wait !== undefined ? fmtSecs(r.wait) : '—') : null))),
      h('tfoot', null, h('tr', null, h('th', { scope: 'row' }, 'All'), cols.map((s) => h('td', { class: 'num' }, String(totals[s]))), showThr ? h('td') : null, h('td'), showWait ? h('td') : null)))) : h('p', { class: 'muted', id: 'no-jobs' }, 'No jobs yet.'));

    // The chart: the server's history if it has one, else samples this page took.
    let points = readHistory(data);
    let windowMs = 3600e3;
    if (points && points.length) {
      note.textContent = 'From the server’s own record of the last hour.';
      windowMs = 3600e3;
    } else {
      const now = Date.now();
      const lastMin = th && typeof th === 'object' && Number.isFinite(+pick(th, 'completed_last_minute')) ? +th.completed_last_minute : null;
      samples.push({ t: now, completed: (totals.completed || 0) + (totals.failed || 0), perMin: lastMin, backlog: (totals.pending || 0) + (totals.waiting || 0) + (totals.running || 0) });
      samples = samples.filter((s) => now - s.t <= 3600e3);
      sessionStorage.setItem(SAMPLES, JSON.stringify(samples));
      points = samples.map((s, i) => {
        const prev = samples[i - 1];
        const dt = prev ? (s.t - prev.t) / 60000 : 0;
        if (s.perMin !== null && s.perMin !== undefined) return { t: s.t, backlog: s.backlog, throughput: s.perMin };
        return { t: s.t, backlog: s.backlog, throughput: prev && dt > 0 ? Math.max(0, (s.completed - prev.completed) / dt) : 0 };
      });
      note.textContent = 'Measured by this page every 5 seconds while it is open (the server reports current counts, not a history): backlog is jobs waiting, pending or running; throughput is jobs completed in the minute before each measurement. The time axis grows to an hour as measurements collect.';
      // Up to an hour: the span measured so far, in whole 5-minute steps.
      const span = samples.length ? now - samples[0].t : 0;
      windowMs = Math.min(3600e3, Math.max(300e3, Math.ceil(span / 300e3) * 300e3));
    }
    const wpx = Math.max(300, Math.min(1100, chartBox.clientWidth || 640));
    chartTitle.textContent = windowMs >= 3600e3 ? 'The last hour' : `The last ${Math.round(windowMs / 60e3)} minutes`;
    replace(chartBox, drawChart(points, { windowMs, width: wpx, height: wpx < 500 ? 200 : 240 }));
    return true;
  }
  const p = poller(tick, 5000).start();
  return () => p.stop();
}

// ---- workers ------------------------------------------------------------------
function workersTab(panel) {
  const box = h('div', { id: 'workers' }, h('p', { class: 'loading' }, 'Loading workers…'));
  replace(panel, h('section', { class: 'card' }, h('h2', null, 'Workers'), h('p', { class: 'small muted' }, `A worker whose last heartbeat is older than ${STALE_S} seconds is marked stale: it may have crashed or lost its connection; its jobs go back to the queue when their leases expire.`), box));
  async function tick() {
    let data;
    try { data = await get('/api/v1/admin/workers'); } catch (e) {
      replace(box, errorBox(e, 'Could not load the workers', 'The worker list'));
      return !(e instanceof ApiError && (e.unavailable || e.status === 401 || e.status === 403));
    }
    const ws = listIn(data, 'workers');
    if (!ws.length) { replace(box, h('p', { class: 'muted', id: 'no-workers' }, 'No workers have registered. Jobs wait in the queue until a worker starts (quire-worker).')); return true; }
    const now = serverNow();
    replace(box, h('div', { class: 'table-wrap' }, h('table', { id: 'workers-table' },
      h('caption', { class: 'sr-only' }, 'Workers'),
      h('thead', null, h('tr', null, ['Worker', 'Status', 'Heartbeat', 'Jobs in hand', 'Types', 'GPU', 'Done', 'Failed', 'Avg time'].map((c, i) => h('th', { scope: 'col', class: i >= 3 && i !== 4 && i !== 5 ? 'num' : null }, c)))),
      h('tbody', null, ws.map((w) => {
        let age = pick(w, 'heartbeat_age_seconds', 'heartbeat_age_s', 'heartbeat_age');
        if (age === undefined) { const d = parseTime(pick(w, 'last_heartbeat', 'heartbeat_at')); age = d ? (now - d.getTime()) / 1000 : null; }
        age = age === null ? null : Math.max(0, +age);
        const st = pick(w, 'status') || 'online';
        const stale = st !== 'offline' && (pick(w, 'stale') === true || pick(w, 'alive') === false || (age !== null && age > STALE_S));
        const types = pick(w, 'types');
        const avg = pick(w, 'avg_seconds', 'avg_run_seconds', 'average_seconds');
        const stats = pick(w, 'stats');
        let avgText = avg !== undefined ? fmtDuration(+avg) : '—';
        if (avg === undefined && stats && typeof stats === 'object') {
          const parts = Object.entries(stats).filter(([, v]) => Number.isFinite(+(v && typeof v === 'object' ? pick(v, 'avg_seconds', 'avg') : v))).map(([k, v]) => `${k} ${fmtDuration(+(typeof v === 'object' ? pick(v, 'avg_seconds', 'avg') : v))}`);
          if (parts.length) avgText = parts.join(', ');
        }
        const inHand = pick(w, 'current_jobs', 'jobs_in_hand', 'running');
        const conc = pick(w, 'concurrency', 'slots');
        return h('tr', { class: stale ? 'stale' : st === 'offline' ? 'offline' : null, dataset: { worker: String(pick(w, 'id', 'worker_id')), stale: String(stale) } },
          h('th', { scope: 'row' }, String(pick(w, 'id', 'worker_id')), pick(w, 'hostname') ? h('div', { class: 'small muted' }, pick(w, 'hostname')) : null),
          h('td', null, stale ? badge('stale', 'stale') : badge(st)),
          h('td', null, age === null ? '—' : `${fmtDuration(age)} ago`),
          h('td', { class: 'num' }, inHand !== undefined ? `${inHand}${conc !== undefined ? ` / ${conc}` : ''}` : '—'),
          h('td', null, Array.isArray(types) ? types.join(', ') : String(types ?? '—')),
          h('td', null, String(pick(w, 'gpu', 'gpu_model') ?? 'none')),
          h('td', { class: 'num' }, String(pick(w, 'jobs_completed', 'completed') ?? '—')),
          h('td', { class: 'num' }, String(pick(w, 'jobs_failed', 'failed') ?? '—')),
          h('td', { class: 'num' }, avgText));
      })))));
    return true;
  }
  const p = poller(tick, 5000).start();
  return () => p.stop();
}

// ---- failed jobs -----------------------------------------------------------------
function attemptsOf(job) {
  for (const k of ['attempt_history', 'attempts_log', 'attempt_errors', 'errors', 'history', 'attempts']) {
    if (Array.isArray(job[k])) return job[k];
  }
  return null;
}

function failedTab(panel) {
  const box = h('div', { id: 'failed-jobs' }, h('p', { class: 'loading' }, 'Loading failed jobs…'));
  const refresh = h('button', { type: 'button', class: 'secondary small', id: 'refresh-failed' }, 'Refresh');
  const statusSel = h('select', { id: 'jobs-status' }, ['failed', 'running', 'pending', 'waiting', 'cancelled', 'completed'].map((x) => h('option', { value: x }, x)));
  const typeIn = h('input', { type: 'text', id: 'jobs-type', placeholder: 'any', maxlength: '32', autocomplete: 'off' });
  const pager = h('div', { class: 'row', id: 'jobs-pager' });
  const title = h('h2', null, 'Failed jobs');
  replace(panel, h('section', { class: 'card' }, h('div', { class: 'row spread' }, title, refresh),
    h('p', { class: 'small muted' }, 'Failed jobs used up their attempts; each shows the error of every attempt. Retry puts a job back in the queue with fresh attempts; Cancel stops a job that is waiting or running (and a retried one).'),
    h('div', { class: 'fields2' }, field('Status', statusSel).wrap, field('Job type', typeIn, 'transcribe, summarize, tag, embed, tts, …').wrap),
    box, pager));
  let alive = true;
  let page = 1;
  const PER = 25;
  async function load() {
    let data;
    const qs = new URLSearchParams({ status: statusSel.value, page: String(page), per_page: String(PER) });
    if (typeIn.value.trim()) qs.set('type', typeIn.value.trim());
    title.textContent = `${statusSel.value[0].toUpperCase()}${statusSel.value.slice(1)} jobs`;
    try { data = await get(`/api/v1/jobs?${qs}`); } catch (e) {
      replace(box, e instanceof ApiError && e.status === 422 ? notice('error', 'The filter was not accepted.', e.serverMessage) : errorBox(e, 'Could not load the jobs', 'The job list'));
      replace(pager);
      return;
    }
    const jobs = listIn(data, 'jobs');
    const total = Number(pick(data, 'total'));
    replace(pager);
    if (page > 1 || (Number.isFinite(total) && total > page * PER)) {
      const prev = h('button', { type: 'button', class: 'secondary small', disabled: page <= 1 }, 'Newer');
      const next = h('button', { type: 'button', class: 'secondary small', disabled: !(Number.isFinite(total) ? total > page * PER : jobs.length === PER) }, 'Older');
      prev.addEventListener('click', () => { page -= 1; load(); });
      next.addEventListener('click', () => { page += 1; load(); });
      replace(pager, prev, h('span', { class: 'small muted' }, `page ${page}${Number.isFinite(total) ? ` of ${Math.max(1, Math.ceil(total / PER))} (${total} jobs)` : ''}`), next);
    }
    if (!jobs.length) { replace(box, h('p', { class: 'muted', id: 'no-failed' }, statusSel.value === 'failed' ? 'No failed jobs.' : `No ${statusSel.value} jobs.`)); return; }
    // Each job's attempts (with errors) from its detail, for the first 25.
    const details = await Promise.all(jobs.slice(0, 25).map(async (j) => {
      const jid = pick(j, 'id', 'job_id');
      let d = j;
      if (!attemptsOf(j)) { try { d = { ...j, ...(await get(`/api/v1/jobs/${encodeURIComponent(jid)}`)) }; } catch { /* keep the list row */ } }
      if (!attemptsOf(d)) {
        try { const a = await get(`/api/v1/jobs/${encodeURIComponent(jid)}/attempts`); d = { ...d, attempt_history: listIn(a, 'attempts') }; } catch { /* not offered */ }
      }
      return d;
    }));
    if (!alive) return;
    replace(box, h('ul', { class: 'filelist', id: 'failed-list' }, details.concat(jobs.slice(25)).map((j) => {
      const jid = pick(j, 'id', 'job_id');
      const msg = h('div', { 'aria-live': 'polite' });
      const atts = attemptsOf(j);
      const buttons = h('span', { class: 'row' });
      // A failed job is final: Retry queues it again; after that, Cancel can
      // stop the retried run (the server refuses to cancel a failed job).
      const act = (label, fn, cls, after) => {
        const b = h('button', { type: 'button', class: `small ${cls}`, dataset: { action: label.toLowerCase() } }, label);
        b.addEventListener('click', async () => {
          b.disabled = true;
          try {
            const r = await fn();
            replace(msg, notice('ok', `${label}: ${(r && r.message) || 'done'}.`));
            announce(`Job ${jid}: ${label} done`);
            after();
          } catch (e) {
            replace(msg, errorBox(e, `${label} failed`)); b.disabled = false;
          }
        });
        return b;
      };
      const showRetry = () => replace(buttons, act('Retry', () => post(`/api/v1/jobs/${encodeURIComponent(jid)}/retry`, {}), 'secondary', showCancel));
      const showCancel = () => replace(buttons, badge('pending', 'queued again'), act('Cancel', () => del(`/api/v1/jobs/${encodeURIComponent(jid)}`), 'danger', () => replace(buttons, badge('cancelled'))));
      const jst = pick(j, 'status') || statusSel.value;
      if (jst === 'failed' || jst === 'cancelled') showRetry();
      else if (['waiting', 'pending', 'running'].includes(jst)) replace(buttons, act('Cancel', () => del(`/api/v1/jobs/${encodeURIComponent(jid)}`), 'danger', () => replace(buttons, badge('cancelled'))));
      const maxA = pick(j, 'max_attempts');
      const nA = typeof j.attempts === 'number' ? j.attempts : atts ? atts.length : null;
      return h('li', { dataset: { jobId: String(jid) } },
        h('div', { class: 'row spread' },
          h('span', null, h('strong', null, `${pick(j, 'type', 'job_type') || 'job'} #${jid}`), pick(j, 'audiobook_id') ? h('span', null, ' · ', h('a', { href: `#/audiobooks/${encodeURIComponent(j.audiobook_id)}` }, `audiobook ${j.audiobook_id}`)) : null,
            h('span', { class: 'muted small' }, nA !== null ? ` · ${nA}${maxA ? ` of ${maxA}` : ''} attempts` : '', pick(j, 'finished_at', 'completed_at') ? ` · failed ${fmtWhen(pick(j, 'finished_at', 'completed_at'))}` : '')),
          buttons),
        atts && atts.length ? h('ol', { class: 'attempts', 'aria-label': 'Attempts' }, atts.map((a, i) => {
          if (typeof a === 'string') return h('li', null, a);
          return h('li', null, h('strong', null, `Attempt ${pick(a, 'attempt', 'n') ?? i + 1}`), pick(a, 'outcome', 'status') ? ` (${pick(a, 'outcome', 'status')})` : '',
            pick(a, 'worker_id') ? ` on ${a.worker_id}` : '', pick(a, 'finished_at', 'at') ? `, ${fmtWhen(pick(a, 'finished_at', 'at'))}` : '', ': ',
            h('span', { class: 'mono' }, pick(a, 'error', 'message') || 'no error recorded'));
        })) : pick(j, 'error', 'last_error') ? h('p', { class: 'small' }, 'Last error: ', h('span', { class: 'mono' }, pick(j, 'error', 'last_error'))) : null,
        msg);
    })));
  }
  refresh.addEventListener('click', load);
  statusSel.addEventListener('change', () => { page = 1; load(); });
  let typeTimer = null;
  typeIn.addEventListener('input', () => { clearTimeout(typeTimer); typeTimer = setTimeout(() => { page = 1; load(); }, 400); });
  load();
  return () => { alive = false; };
}

// ---- users and tokens ------------------------------------------------------------
function usersTab(panel) {
  const list = h('div', { id: 'users' }, h('p', { class: 'loading' }, 'Loading users…'));
  const name = h('input', { type: 'text', id: 'new-user-name', maxlength: '64', autocomplete: 'off', required: true });
  const role = h('select', { id: 'new-user-role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'), h('option', { value: 'worker' }, 'worker (remote queue access)'));
  const prio = h('select', { id: 'new-user-priority' }, h('option', { value: 'standard' }, 'standard'), h('option', { value: 'premium' }, 'premium'));
  const out = h('div', { id: 'new-user-out', 'aria-live': 'polite' });
  const form = h('form', { id: 'new-user-form', novalidate: true },
    h('div', { class: 'fields2' }, field('Name', name).wrap, field('Role', role).wrap), field('Priority', prio).wrap,
    h('button', { type: 'submit' }, 'Create user and token'), out);
  replace(panel, h('div', { class: 'grid2' }, h('section', { class: 'card' }, h('h2', null, 'Users'), list), h('section', { class: 'card' }, h('h2', null, 'New user'), form)));

  const tokenShown = (tok) => notice('ok', 'The new token, shown only once:', h('p', { class: 'token-once', id: 'token-once' }, tok), h('p', { class: 'small' }, 'Copy it now and give it to its owner; quire keeps only a hash of it.'));

  async function load() {
    let data;
    try { data = await get('/api/v1/admin/users'); } catch (e) { replace(list, errorBox(e, 'Could not load the users', 'User management')); return; }
    const users = listIn(data, 'users');
    if (!users.length) { replace(list, h('p', { class: 'muted' }, 'No users.')); return; }
    replace(list, h('ul', { class: 'filelist', id: 'user-list' }, users.map((u) => {
      const uid = pick(u, 'id', 'user_id');
      const tbox = h('div');
      const msg = h('div', { 'aria-live': 'polite' });
      const newTok = h('button', { type: 'button', class: 'small secondary' }, 'New token');
      newTok.addEventListener('click', async () => {
        newTok.disabled = true;
        try {
          const r = await firstOk([
            () => post(`/api/v1/admin/users/${encodeURIComponent(uid)}/tokens`, { label: 'dashboard' }),
            () => post('/api/v1/admin/tokens', { user_id: uid, label: 'dashboard' })]);
          replace(msg, tokenShown(pick(r, 'token') || pick(pick(r, 'token_info') || {}, 'token')));
          drawTokens(u, tbox);
        } catch (e) { replace(msg, errorBox(e, 'Could not create a token', 'Token creation')); }
        newTok.disabled = false;
      });
      const li = h('li', { dataset: { user: String(pick(u, 'name')) } },
        h('div', { class: 'row spread' }, h('span', null, h('strong', null, pick(u, 'name') || `user ${uid}`), ' ', badge(pick(u, 'role') || 'user', pick(u, 'role') || 'user'),
          pick(u, 'priority_class', 'priority') ? h('span', { class: 'muted small' }, ` ${pick(u, 'priority_class', 'priority')}`) : null), newTok),
        tbox, msg);
      drawTokens(u, tbox);
      return li;
    })));
  }

  async function drawTokens(u, box) {
    const uid = pick(u, 'id', 'user_id');
    let toks = Array.isArray(u.tokens) ? u.tokens : null;
    if (!toks) {
      try {
        const r = await firstOk([() => get(`/api/v1/admin/users/${encodeURIComponent(uid)}/tokens`), () => get(`/api/v1/admin/tokens?user_id=${encodeURIComponent(uid)}`)]);
        toks = listIn(r, 'tokens');
      } catch (e) {
        replace(box, e instanceof ApiError && e.unavailable ? h('p', { class: 'small muted' }, 'Token listing is not available on this server.') : errorBox(e, 'Could not list tokens'));
        return;
      }
    }
    const active = toks.filter((t) => !pick(t, 'revoked_at') && t.revoked !== true);
    if (!active.length) { replace(box, h('p', { class: 'small muted' }, 'No active tokens.')); return; }
    replace(box, h('ul', { class: 'attempts', 'aria-label': `Tokens of ${pick(u, 'name')}` }, active.map((t) => {
      const tid = pick(t, 'id', 'token_id');
      const rv = h('button', { type: 'button', class: 'link small', 'aria-label': `Revoke token ${pick(t, 'prefix') || tid}` }, 'Revoke');
      const m = h('span', { 'aria-live': 'polite' });
      rv.addEventListener('click', async () => {
        if (!window.confirm(`Revoke token ${pick(t, 'prefix') || tid}? Programs using it stop working at once.`)) return;
        try {
          await firstOk([() => del(`/api/v1/admin/tokens/${encodeURIComponent(tid)}`), () => post(`/api/v1/admin/tokens/${encodeURIComponent(tid)}/revoke`, {})]);
          announce('Token revoked');
          load();
        } catch (e) { m.textContent = ` Could not revoke: ${explain(e).lead}`; }
      });
      const mine = session.who && session.who.token_id !== undefined && String(session.who.token_id) === String(tid);
      return h('li', null, h('span', { class: 'mono' }, `${pick(t, 'prefix') || ''}…`), pick(t, 'label') ? ` ${t.label}` : '', mine ? h('strong', null, ' (the one you are signed in with)') : '',
        h('span', { class: 'muted small' }, ` created ${fmtWhen(pick(t, 'created_at'))}${pick(t, 'last_used_at') ? `, last used ${fmtWhen(t.last_used_at)}` : ', never used'} `), rv, m);
    })));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(name, null);
    replace(out);
    if (!name.value.trim()) { fieldError(name, 'Give the user a name.'); name.focus(); return; }
    try {
      const r = await post('/api/v1/admin/users', { name: name.value.trim(), role: role.value, admin: role.value === 'admin', priority: prio.value, priority_class: prio.value });
      const tok = pick(r, 'token') || pick(pick(r, 'user') || {}, 'token');
      replace(out, tok ? tokenShown(tok) : notice('ok', 'The user was created.'));
      name.value = '';
      load();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 409 || e.status === 422 || e.status === 400)) fieldError(name, e.serverMessage || explain(e).lead);
      else replace(out, errorBox(e, 'Could not create the user', 'User management'));
    }
  });
  load();
  return null;
}

// Runs the alternatives in order, moving on only when an endpoint is missing.
async function firstOk(fns) {
  let last;
  for (const fn of fns) {
    try { return await fn(); } catch (e) {
      last = e;
      if (!(e instanceof ApiError && e.unavailable)) throw e;
    }
  }
  throw last;
}


// chart.mjs - the admin page's small SVG chart: backlog (area, left axis)
// and throughput in jobs finished per minute (line, right axis) over a time
// window ending now. No library; the SVG carries a <title> and a <desc> that
// say the latest values, for screen readers.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmtTick = (v) => String(+v.toFixed(Number.isInteger(v) ? 0 : 2));

// The axis maximum: four equal steps of 1, 2, 2.5 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return 4 * m * p;
  return 40 * p;
}

// points: [{t (ms), backlog, throughput}] -> <svg>.
export function drawChart(points, { windowMs = 3600e3, width = 640, height = 220 } = {}) {
  const now = Date.now();
  const t0 = now - windowMs;
  const pts = points.filter((p) => p.t >= t0 - 60e3).sort((a, b) => a.t - b.t);
  const m = { l: 44, r: 48, t: 26, b: 28 };
  const W = width - m.l - m.r, H = height - m.t - m.b;
  const bMax = niceMax(Math.max(1, ...pts.map((p) => p.backlog)));
  const tMax = niceMax(Math.max(1, ...pts.map((p) => p.throughput)));
  const x = (t) => m.l + ((Math.max(t, t0) - t0) / windowMs) * W;
  const yb = (v) => m.t + H - (v / bMax) * H;
  const yt = (v) => m.t + H - (v / tMax) * H;
  const last = pts[pts.length - 1];
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', id: 'queue-svg' });
  const span = windowMs >= 3600e3 ? 'the last hour' : `the last ${Math.round(windowMs / 60e3)} minutes`;
  svg.appendChild(el('title', { id: 'chart-title' }, `Throughput and backlog over ${span}`));
  svg.appendChild(el('desc', { id: 'chart-desc' }, last
    ? `Now: ${last.backlog} jobs waiting or running; ${last.throughput.toFixed(1)} jobs finished per minute. ${pts.length} measurements.`
    : 'No measurements yet.'));
  for (let i = 0; i <= 4; i += 1) {
    const y = m.t + (H * i) / 4;
    svg.appendChild(el('line', { class: 'gridline', x1: m.l, x2: m.l + W, y1: y, y2: y }));
    svg.appendChild(el('text', { class: 'lbl', x: m.l - 6, y: y + 4, 'text-anchor': 'end' }, fmtTick(bMax * (1 - i / 4))));
    svg.appendChild(el('text', { class: 'lbl', x: m.l + W + 6, y: y + 4 }, fmtTick(tMax * (1 - i / 4))));
  }
  // Ticks on whole minutes: the most of 6, 5, 4, 3 (3, 2 on a phone) that divide the window.
  const winMin = Math.round(windowMs / 60e3);
  const steps = (W < 360 ? [3, 2] : [6, 5, 4, 3]).find((c) => winMin % c === 0) || 2;
  for (let k = 0; k <= steps; k += 1) {
    const t = t0 + (windowMs * k) / steps;
    const mins = (now - t) / 60000;
    const lbl = mins < 0.01 ? 'now' : `-${Number.isInteger(Math.round(mins * 10) / 10) ? Math.round(mins) : mins.toFixed(1)} min`;
    svg.appendChild(el('text', { class: 'lbl', x: x(t), y: m.t + H + 18, 'text-anchor': 'middle' }, lbl));
  }
  svg.appendChild(el('line', { class: 'axis', x1: m.l, x2: m.l + W, y1: m.t + H, y2: m.t + H }));
  svg.appendChild(el('text', { class: 'lbl', x: 4, y: 12 }, 'backlog (jobs)'));
  svg.appendChild(el('text', { class: 'lbl', x: width - 4, y: 12, 'text-anchor': 'end' }, 'finished / min'));
  if (pts.length) {
    const bl = pts.map((p) => `${x(p.t).toFixed(1)},${yb(p.backlog).toFixed(1)}`);
    const area = `M${x(pts[0].t).toFixed(1)},${yb(0)} L${bl.join(' L')} L${x(last.t).toFixed(1)},${yb(0)} Z`;
    svg.appendChild(el('path', { class: 'backlog', d: area }));
    if (pts.length > 1) svg.appendChild(el('polyline', { class: 'thr', points: pts.map((p) => `${x(p.t).toFixed(1)},${yt(p.throughput).toFixed(1)}`).join(' ') }));
    svg.appendChild(el('circle', { cx: x(last.t), cy: yt(last.throughput), r: 3, fill: '#17643a' }));
  }
  return svg;
}

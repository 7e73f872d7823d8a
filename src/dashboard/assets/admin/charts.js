// Hand-drawn SVG charts: a line chart of samples over time and horizontal bars. No library.
const NS = 'http://www.w3.org/2000/svg';
const el = (tag, attrs = {}, text) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};
const COLORS = ['#0a58ca', '#cf222e', '#9a6700', '#1a7f37'];

/**
 * A line chart. series: [{ name, points: [{ t, v }] }]; unit: printed after values.
 * Returns an <svg role="img"> with a <title> summarising the latest values (for screen readers).
 */
export function lineChart({ title, series, unit = '', width = 520, height = 170 }) {
  const pad = { l: 46, r: 10, t: 10, b: 22 };
  const all = series.flatMap((s) => s.points);
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'data-points': all.length, 'data-max': Math.max(0, ...all.map((p) => p.v)) });
  const latest = series.map((s) => `${s.name} ${fmt(s.points.at(-1)?.v)}${unit}`).join(', ');
  svg.append(el('title', {}, `${title}: ${all.length ? latest : 'no samples yet'}`));
  const t0 = Math.min(...all.map((p) => p.t), Date.now() - 60_000);
  const t1 = Math.max(...all.map((p) => p.t), t0 + 1);
  const vmax = Math.max(...all.map((p) => p.v), 0) || 1;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / vmax) * (height - pad.t - pad.b);
  for (const f of [0, 0.5, 1]) {
    const v = vmax * f;
    svg.append(el('line', { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), stroke: '#d0d7de', 'stroke-width': 1 }));
    svg.append(el('text', { x: pad.l - 4, y: y(v) + 3, 'text-anchor': 'end' }, `${fmt(v)}${unit}`));
  }
  svg.append(el('text', { x: pad.l, y: height - 6 }, new Date(t0).toLocaleTimeString()));
  svg.append(el('text', { x: width - pad.r, y: height - 6, 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 1) {
      svg.append(el('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points: s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
    }
    for (const p of s.points) svg.append(el('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5, fill: color }));
    svg.append(el('text', { x: pad.l + 6 + i * 90, y: pad.t + 8, fill: color }, s.name));
  });
  if (!all.length) svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'waiting for samples…'));
  return svg;
}

/** A table of horizontal bars (an accessible bar chart): rows [{ label, value }]. */
export function barTable(caption, rows, h) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h('table', { class: 'bars' },
    h('caption', { class: 'muted' }, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'what'), h('th', { scope: 'col', class: 'num' }, 'count'), h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'share')))),
    h('tbody', {}, ...(rows.length ? rows.map((r) => {
      const bar = h('span', {});
      bar.style.width = `${(100 * r.value) / max}%`;
      return h('tr', {}, h('td', {}, r.label), h('td', { class: 'num' }, String(r.value)), h('td', { class: 'bar', 'aria-hidden': 'true' }, bar));
    }) : [h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'none in this window'))])));
}

export function fmt(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// A trend chart of one point from the AAS history route: raw samples for short ranges, min/max/avg
// buckets for long ones (about BUCKETS per chart); drag to zoom loads the zoomed range at finer
// resolution. The data handed to the chart is also kept on the element (agwData) and can be shown
// as a table (accessible, and what the browser tests compare with the history route).
import uPlot from '../../vendor/uplot/uPlot.esm.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { elementUrl, get } from '../api.js';
import * as live from '../live.js';
import * as fmt from '../format.js';

export const PRESETS = [['15m', 900], ['1h', 3600], ['8h', 8 * 3600], ['24h', 86400], ['7d', 7 * 86400]];
const RAW_MAX_SPAN_S = 2 * 3600;
const RAW_LIMIT = 20000;
const BUCKETS = 600;
const TABLE_ROWS = 500;

function iso(sec) { return new Date(sec * 1000).toISOString(); }

export async function fetchSeries(point, startS, endS) {
  const base = `${elementUrl(point.smId, point.path)}/history?from=${encodeURIComponent(iso(startS))}&to=${encodeURIComponent(iso(endS))}`;
  if (endS - startS <= RAW_MAX_SPAN_S) {
    const r = await get(`${base}&limit=${RAW_LIMIT}`);
    if (r.samples.length < RAW_LIMIT) {
      const x = [], y = [];
      for (const s of r.samples) {
        x.push(Date.parse(s.timestamp) / 1000);
        y.push(s.statusCode >= 0x80000000 || typeof s.value !== 'number' ? null : s.value);
      }
      return { mode: 'raw', x, y, bucket: null };
    }
  }
  const bucket = Math.max(1, Math.ceil((endS - startS) / BUCKETS));
  const r = await get(`${base}&bucket=PT${bucket}S&agg=min,max,avg,count&limit=${BUCKETS + 2}`);
  const x = [], y = [], min = [], max = [];
  for (const b of r.buckets) {
    x.push(Date.parse(b.start) / 1000);
    y.push(b.avg); min.push(b.min); max.push(b.max);
  }
  return { mode: 'buckets', x, y, min, max, bucket };
}

export function trendPanel(points, { initial } = {}) {
  const numeric = points.filter((p) => p.numeric);
  let point = numeric.find((p) => p.key === initial) || numeric[0];
  let span = 3600;
  let range = null; // [start, end] in s while zoomed
  let chart = null;
  let data = null;
  let seq = 0;
  let pendingLive = [];
  const select = h('select', { id: 'trend-point', 'aria-label': t('trend.point') },
    numeric.map((p) => h('option', { value: p.key, text: `${p.submodel === 'OperationalData' ? '' : p.submodel + ' · '}${p.path}${p.unit ? ` (${p.unit})` : ''}` })));
  if (point) select.value = point.key;
  const presetButtons = PRESETS.map(([label, s]) => h('button', { type: 'button', class: 'seg', 'aria-pressed': String(s === span),
    dataset: { span: s }, text: t(`range.${label}`) }));
  const reset = h('button', { type: 'button', class: 'secondary', text: t('trend.resetZoom'), hidden: true });
  const tableToggle = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', text: t('trend.table') });
  const info = h('p', { class: 'small muted trend-info', role: 'status' });
  const plotEl = h('div', { class: 'trend-plot', role: 'img', 'aria-label': t('trend.label') });
  const tableEl = h('div', { class: 'trend-table', hidden: true });
  const el = h('section', { class: 'card trend', 'aria-labelledby': 'trend-title' },
    h('h2', { id: 'trend-title', text: t('trend.title') }),
    h('div', { class: 'toolbar' }, h('label', { for: 'trend-point', class: 'sr-only', text: t('trend.point') }), select,
      h('div', { class: 'segmented', role: 'group', 'aria-label': t('trend.range') }, presetButtons), reset, tableToggle),
    info, plotEl, tableEl);

  function opts(width) {
    const series = [{ value: (u, v) => (v == null ? '—' : fmt.dateTime(iso(v))) },
      { label: data && data.mode === 'buckets' ? t('trend.avg') : t('trend.value'), stroke: '#0b4f8a', width: 2,
        value: (u, v) => (v == null ? '—' : fmt.num(v)) }];
    const bands = [];
    if (data && data.mode === 'buckets') {
      series.push({ label: t('trend.min'), stroke: '#6b8fb5', width: 1, value: (u, v) => (v == null ? '—' : fmt.num(v)) },
        { label: t('trend.max'), stroke: '#6b8fb5', width: 1, value: (u, v) => (v == null ? '—' : fmt.num(v)) });
      bands.push({ series: [3, 2], fill: 'rgba(11,79,138,0.12)' });
    }
    return {
      width, height: 280, series, bands,
      scales: { x: { time: true } },
      axes: [{ stroke: '#1f2933', grid: { stroke: '#e3e8ee' } },
        { stroke: '#1f2933', grid: { stroke: '#e3e8ee' }, label: point && point.unit ? point.unit : '' }],
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, 'x');
        const b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        zoomTo(a, b);
      }] },
    };
  }

  function arrays() {
    return data.mode === 'buckets' ? [data.x, data.y, data.min, data.max] : [data.x, data.y];
  }

  function draw() {
    const width = Math.max(280, plotEl.clientWidth || 600);
    if (chart) chart.destroy();
    plotEl.replaceChildren();
    chart = new uPlot(opts(width), arrays(), plotEl);
    plotEl.agwData = data;
    plotEl.dataset.mode = data.mode;
    plotEl.dataset.count = String(data.x.length);
    plotEl.dataset.point = point.key;
    if (!tableEl.hidden) renderTable();
  }

  function renderTable() {
    const n = data.x.length;
    const from = Math.max(0, n - TABLE_ROWS);
    const cols = data.mode === 'buckets' ? [t('trend.min'), t('trend.avg'), t('trend.max')] : [t('trend.value')];
    const rows = [];
    for (let i = n - 1; i >= from; i--) {
      const cells = data.mode === 'buckets' ? [data.min[i], data.y[i], data.max[i]] : [data.y[i]];
      rows.push(h('tr', {}, h('td', { text: fmt.dateTime(iso(data.x[i])), dataset: { ts: iso(data.x[i]) } }),
        cells.map((c) => h('td', { class: 'num', dataset: { v: c === null || c === undefined ? '' : String(c) }, text: fmt.num(c) }))));
    }
    replace(tableEl, h('p', { class: 'small muted', text: t('trend.tableNote', { shown: n - from, total: n }) }),
      h('table', { class: 'data' }, h('caption', { class: 'sr-only', text: t('trend.title') }),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('col.time') }), cols.map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, rows)));
  }

  async function load() {
    if (!point) { info.textContent = t('trend.none'); return; }
    const my = ++seq;
    const end = range ? range[1] : Date.now() / 1000;
    const start = range ? range[0] : end - span;
    info.textContent = t('trend.loading');
    el.setAttribute('aria-busy', 'true');
    try {
      const d = await fetchSeries(point, start, end);
      if (my !== seq) return;
      data = d;
      data.start = start; data.end = end;
      pendingLive = [];
      draw();
      info.textContent = d.mode === 'raw' ? t('trend.infoRaw', { n: d.x.length })
        : t('trend.infoBuckets', { n: d.x.length, bucket: fmt.duration(d.bucket) });
    } catch (e) {
      if (my === seq) info.textContent = t('trend.error', { text: e.message });
    } finally {
      if (my === seq) el.removeAttribute('aria-busy');
    }
  }

  function zoomTo(a, b) {
    range = [a, b];
    reset.hidden = false;
    load();
  }

  select.addEventListener('change', () => { point = numeric.find((p) => p.key === select.value); range = null; reset.hidden = true; load(); watchLive(); });
  for (const b of presetButtons) {
    b.addEventListener('click', () => {
      span = Number(b.dataset.span);
      range = null; reset.hidden = true;
      for (const o of presetButtons) o.setAttribute('aria-pressed', String(o === b));
      load();
    });
  }
  reset.addEventListener('click', () => { range = null; reset.hidden = true; load(); });
  tableToggle.addEventListener('click', () => {
    tableEl.hidden = !tableEl.hidden;
    tableToggle.setAttribute('aria-expanded', String(!tableEl.hidden));
    if (!tableEl.hidden && data) renderTable();
  });

  // live points appended to a raw trend that ends now (once a second at most)
  let liveTimer = null;
  function watchLive() {
    if (!point) return;
    const key = point.key;
    live.watch(key, (e) => {
      if (!data || range || data.mode !== 'raw' || point.key !== key || !e[3]) return;
      pendingLive.push([Date.parse(e[3]) / 1000, e[1] === 'Bad' || typeof e[0] !== 'number' ? null : e[0]]);
    });
  }
  liveTimer = setInterval(() => {
    if (!pendingLive.length || !data || !chart || data.mode !== 'raw' || range) return;
    const last = data.x.length ? data.x[data.x.length - 1] : -Infinity;
    for (const [x, y] of pendingLive) if (x > last) { data.x.push(x); data.y.push(y); }
    pendingLive = [];
    const cut = Date.now() / 1000 - span;
    while (data.x.length && data.x[0] < cut) { data.x.shift(); data.y.shift(); }
    chart.setData(arrays());
    plotEl.dataset.count = String(data.x.length);
  }, 1000);
  const onResize = () => { if (chart) chart.setSize({ width: Math.max(280, plotEl.clientWidth), height: 280 }); };
  window.addEventListener('resize', onResize);

  return {
    el,
    start() { watchLive(); load(); },
    show(key) {
      const p = numeric.find((x) => x.key === key);
      if (!p) return;
      point = p; select.value = key; range = null; reset.hidden = true; load(); watchLive();
      el.scrollIntoView({ behavior: 'smooth', block: 'start' });
      select.focus({ preventScroll: true });
    },
    dispose() { clearInterval(liveTimer); window.removeEventListener('resize', onResize); if (chart) chart.destroy(); },
  };
}


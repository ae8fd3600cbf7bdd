// The state timeline: one bar, a segment per period in a category, and the share of each category.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import * as fmt from '../format.js';
import { CATEGORIES } from '../views/common.js';

const RANGES = [['8h', 8 * 3600], ['24h', 86400], ['7d', 7 * 86400]];

export function timelinePanel(asset) {
  let span = 8 * 3600;
  const bar = h('div', { class: 'timeline-bar', role: 'img' });
  const legend = h('ul', { class: 'timeline-legend' });
  const axis = h('div', { class: 'timeline-axis small muted' });
  const info = h('p', { class: 'small muted', role: 'status' });
  const buttons = RANGES.map(([label, s]) => h('button', { type: 'button', class: 'seg', 'aria-pressed': String(s === span),
    dataset: { span: s }, text: t(`range.${label}`) }));
  const el = h('section', { class: 'card timeline', 'aria-labelledby': 'timeline-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'timeline-title', text: t('timeline.title') }),
      h('div', { class: 'segmented', role: 'group', 'aria-label': t('trend.range') }, buttons)),
    bar, axis, legend, info);
  let timer = null;
  let seq = 0;

  async function load() {
    const my = ++seq;
    const end = Date.now();
    const start = end - span * 1000;
    try {
      const d = await get(`/ui/api/assets/${encodeURIComponent(asset)}/timeline?from=${encodeURIComponent(new Date(start).toISOString())}&to=${encodeURIComponent(new Date(end).toISOString())}`);
      if (my !== seq) return;
      render(d, start, end);
    } catch (e) {
      if (my === seq) info.textContent = t('trend.error', { text: e.message });
    }
  }

  function render(d, start, end) {
    const total = end - start;
    const shares = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
    const segs = d.segments.map((s) => {
      const a = Math.max(start, Date.parse(s.start)), b = Math.min(end, Date.parse(s.end));
      shares[s.category] = (shares[s.category] || 0) + Math.max(0, b - a);
      const label = `${t(`cat.${s.category}`)}${s.state !== null && s.state !== undefined ? ` (${s.state})` : ''}: ${fmt.dateTime(s.start)} – ${fmt.dateTime(s.end)}`;
      const seg = h('span', { class: `seg-${s.category}`, title: label, dataset: { category: s.category } });
      seg.style.width = `${(Math.max(0, b - a) / total) * 100}%`;
      return seg;
    });
    replace(bar, segs);
    const summary = CATEGORIES.filter((c) => shares[c] > 0)
      .map((c) => `${t(`cat.${c}`)} ${fmt.pct(shares[c] / total)}`).join(', ');
    bar.setAttribute('aria-label', t('timeline.summary', { text: summary || t('cat.unknown') }));
    replace(axis, h('span', { text: fmt.dateTime(new Date(start).toISOString()) }), h('span', { text: fmt.dateTime(new Date(end).toISOString()) }));
    replace(legend, CATEGORIES.map((c) => h('li', {}, h('span', { class: `swatch seg-${c}`, 'aria-hidden': 'true' }),
      `${t(`cat.${c}`)} ${fmt.pct(shares[c] / total)}`)));
    info.textContent = d.source === 'kpi' ? t('timeline.fromKpi') : d.source === 'state' ? t('timeline.fromState') : t('timeline.none');
    if (d.truncated) info.textContent += ' ' + t('timeline.truncated');
  }

  for (const b of buttons) {
    b.addEventListener('click', () => {
      span = Number(b.dataset.span);
      for (const o of buttons) o.setAttribute('aria-pressed', String(o === b));
      load();
    });
  }
  return {
    el,
    start() { load(); timer = setInterval(load, 30000); },
    refresh() { load(); },
    dispose() { clearInterval(timer); },
  };
}

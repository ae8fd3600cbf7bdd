// Plant overview: every asset with connection, machine state, OEE and its factors of the current shift,
// active alarms and last sample age; the gateway strip on top. Updated live by the stream.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import * as live from '../live.js';
import * as fmt from '../format.js';
import { categoryChip, connectionChip, renderValue, strip } from './common.js';

const FACTORS = ['OEE', 'Availability', 'Effectiveness', 'QualityRatio'];

export async function renderOverview(main) {
  const data = await get('/ui/api/overview');
  live.seed(data.values);
  const stripEl = h('section', { class: 'strip', 'aria-label': t('strip.label') }, strip(data.strip));
  const grid = h('div', { class: 'asset-grid', role: 'list' });
  const ages = [];
  const statusEls = {};
  for (const a of data.assets) {
    const card = assetCard(a, ages, statusEls);
    grid.append(card);
  }
  replace(main, h('h1', { class: 'page-title', text: t('overview.title') }), stripEl,
    h('p', { class: 'sr-only', text: t('overview.count', { n: data.assets.length }) }), grid);
  const applyStatus = (st) => {
    if (st.strip) replace(stripEl, strip(st.strip));
    for (const [name, s] of Object.entries(st.assets || {})) {
      const el = statusEls[name];
      if (!el) continue;
      replace(el.conn, connectionChip(s.state));
      replace(el.cat, categoryChip(s.category));
      el.card.dataset.connection = s.state || '';
      el.last.dataset.ts = s.lastSample || '';
      el.last.textContent = fmt.age(s.lastSample);
      el.card.classList.toggle('stale', s.state !== 'connected');
    }
  };
  applyStatus({ assets: data.status });
  live.open('overview');
  for (const a of data.assets) bindAsset(a, statusEls[a.idShort]);
  live.watchStatus(applyStatus);
  const timer = setInterval(() => { for (const el of ages) el.textContent = fmt.age(el.dataset.ts || null); }, 1000);
  return { dispose() { clearInterval(timer); } };
}

function assetCard(a, ages, statusEls) {
  const conn = h('span', { class: 'conn' });
  const cat = h('span', { class: 'cat' });
  const stateVal = h('span', { class: 'state-value' });
  const last = h('span', { class: 'last-sample' });
  ages.push(last);
  const kpi = a.kpi ? h('div', { class: 'kpis' },
    h('div', { class: 'oee' }, h('span', { class: 'k', text: t('kpi.OEE') }), h('span', { class: 'big', dataset: { factor: 'OEE' }, text: '—' })),
    h('dl', { class: 'factors' }, FACTORS.slice(1).map((f) => [h('dt', { text: t(`kpi.${f}`) }),
      h('dd', { dataset: { factor: f } }, h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'fill' })),
        h('span', { class: 'pct', text: '—' }))])))
    : h('p', { class: 'muted small', text: t('overview.nokpi') });
  const alarms = a.detection ? h('div', { class: 'alarms' },
    h('span', { class: 'k', text: t('overview.alarms') }), h('span', { class: 'alarm-count', text: '—' }),
    h('ul', { class: 'alarm-list' })) : null;
  const card = h('article', { class: 'asset-card', role: 'listitem', dataset: { asset: a.idShort },
    'aria-labelledby': `title-${a.idShort}` },
  h('header', {},
    h('h2', { id: `title-${a.idShort}` }, h('a', { href: `#/asset/${encodeURIComponent(a.idShort)}`, text: a.idShort })),
    conn),
  a.description ? h('p', { class: 'desc', text: a.description }) : null,
  h('div', { class: 'state-row' }, h('span', { class: 'k', text: t('overview.state') }), stateVal, cat),
  kpi, alarms,
  h('p', { class: 'small muted' }, t('overview.lastSample'), ' ', last));
  statusEls[a.idShort] = { card, conn, cat, last, stateVal, kpi, alarms };
  return card;
}

function bindAsset(a, el) {
  if (a.statePoint) live.watch(a.statePoint, (e) => renderValue(el.stateVal, e));
  if (a.kpi) {
    for (const f of FACTORS) {
      live.watch(`${a.idShort}/ProductionKPIs/CurrentShift.${f}`, (e) => {
        const target = el.kpi.querySelector(`[data-factor="${f}"]`);
        const [v, q] = e;
        const ok = q !== 'Bad' && typeof v === 'number';
        const text = ok ? fmt.pct(v) : '—';
        if (f === 'OEE') {
          target.textContent = text;
          target.classList.toggle('q-uncertain', q === 'Uncertain');
        } else {
          target.querySelector('.pct').textContent = text;
          target.querySelector('.fill').style.width = ok ? `${Math.max(0, Math.min(1, v)) * 100}%` : '0';
        }
      });
    }
  }
  if (a.detection) {
    const count = el.alarms.querySelector('.alarm-count');
    const list = el.alarms.querySelector('.alarm-list');
    live.watch(`${a.idShort}/AnomalyDetection/ActiveAlarms`, (e) => {
      const [v, q] = e;
      count.textContent = q === 'Bad' ? '—' : String(v ?? 0);
      el.card.classList.toggle('alarming', q !== 'Bad' && v > 0);
    });
    const states = {};
    const redraw = () => {
      const open = Object.entries(states).filter(([, s]) => s && s !== 'Normal');
      replace(list, open.map(([name, s]) => h('li', { class: 'alarm-item', dataset: { alarm: name, state: s } },
        h('span', { class: 'alarm-name', text: name.replace(/_/g, '.') }), ' ',
        h('span', { class: `chip small alarm-${s}`, text: t(`alarm.${s}`) }))));
    };
    for (const name of a.alarms) {
      live.watch(`${a.idShort}/AnomalyDetection/Alarms.${name}.State`, (e) => { states[name] = e[1] === 'Bad' ? null : e[0]; redraw(); });
    }
  }
}

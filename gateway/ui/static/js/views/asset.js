// One asset: live values (unit, quality, source time; operators write setpoints and see the machine
// confirm them), trends, the state timeline, the KPI board with shift history, alarms and operator inputs.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { can, elementUrl, get, writeValue } from '../api.js';
import * as live from '../live.js';
import * as fmt from '../format.js';
import { categoryChip, connectionChip, renderValue } from './common.js';
import { trendPanel } from '../components/trend.js';
import { timelinePanel } from '../components/timeline.js';

const KPI = 'ProductionKPIs';
const AD = 'AnomalyDetection';
const MODES = ['Processing', 'Setup', 'Maintenance', 'None'];
const ACKABLE = new Set(['Unacknowledged', 'ClearedUnacknowledged']);

export async function renderAsset(main, idShort) {
  bindings.length = 0;
  const a = await get(`/ui/api/assets/${encodeURIComponent(idShort)}`);
  live.seed(a.values);
  const byKey = Object.fromEntries(a.points.map((p) => [p.key, p]));
  const key = (sm, path) => `${a.idShort}/${sm}/${path}`;
  const disposers = [];

  // --- header
  const conn = h('span'); const cat = h('span'); const last = h('span'); const err = h('p', { class: 'error small', hidden: true });
  const header = h('header', { class: 'asset-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/', text: t('nav.overview') }), ' / ', a.idShort),
    h('h1', { class: 'page-title', text: a.idShort }),
    a.description ? h('p', { class: 'desc', text: a.description }) : null,
    h('div', { class: 'head-row' }, conn, cat,
      a.statePoint ? h('span', { class: 'state-value', id: 'asset-state' }) : null,
      h('span', { class: 'small muted' }, t('overview.lastSample'), ' ', last)), err);
  const applyStatus = (st) => {
    const s = (st.assets || {})[a.idShort];
    if (!s) return;
    replace(conn, connectionChip(s.state));
    replace(cat, categoryChip(s.category));
    last.dataset.ts = s.lastSample || '';
    last.textContent = fmt.age(s.lastSample);
    err.hidden = !s.error;
    err.textContent = s.error ? t('asset.error', { text: s.error }) : '';
  };
  applyStatus({ assets: a.status });

  // --- panels
  const trend = trendPanel(a.points, { initial: a.points.find((p) => p.numeric && !p.derived)?.key });
  const timeline = timelinePanel(a.idShort);
  const machinePoints = a.points.filter((p) => !p.derived);
  const valuesCard = h('section', { class: 'card values', 'aria-labelledby': 'values-title' },
    h('h2', { id: 'values-title', text: t('values.title') }), valuesTable(machinePoints, trend));
  const sections = [valuesCard];
  if (a.kpi) sections.push(kpiBoard(a, key, byKey, disposers));
  if (a.kpi && can('operator')) sections.push(operatorInputs(a, key, byKey));
  if (a.detection) sections.push(alarmsCard(a, key, byKey));
  const predictions = a.points.filter((p) => p.derived && p.submodel !== KPI && p.submodel !== AD
    && !p.submodel.startsWith('ProcessVariables'));
  if (predictions.length) {
    sections.push(h('section', { class: 'card', 'aria-labelledby': 'pred-title' },
      h('h2', { id: 'pred-title', text: t('pred.title') }), valuesTable(predictions, trend)));
  }
  replace(main, header, h('div', { class: 'asset-grid2' },
    h('div', { class: 'col' }, sections[0]), h('div', { class: 'col' }, trend.el, timeline.el)), sections.slice(1));

  live.open(`asset:${a.idShort}`);
  live.watchStatus(applyStatus);
  if (a.statePoint) live.watch(a.statePoint, (e) => { renderValue(document.getElementById('asset-state'), e); timeline.refresh(); });
  for (const fn of bindings) fn();
  bindings.length = 0;
  trend.start();
  timeline.start();
  const timer = setInterval(() => { last.textContent = fmt.age(last.dataset.ts || null); }, 1000);
  return { dispose() { clearInterval(timer); trend.dispose(); timeline.dispose(); for (const d of disposers) d(); } };
}

// watchers are registered after live.open() (which clears those of the previous page)
const bindings = [];
const bind = (key, fn) => bindings.push(() => live.watch(key, fn));

function valuesTable(points, trend) {
  const operator = can('operator');
  const rows = points.map((p) => {
    const cell = h('td', { class: 'value', dataset: { key: p.key } });
    const tsCell = h('td', { class: 'small ts' });
    bind(p.key, (e) => { renderValue(cell, e, { type: p.type, unit: p.unit }); tsCell.textContent = fmt.time(e[3]); });
    const actions = h('td', { class: 'actions' });
    if (p.numeric) {
      actions.append(h('button', { type: 'button', class: 'link', 'aria-label': t('values.trendOf', { path: p.path }),
        text: t('values.trend'), onclick: () => trend.show(p.key) }));
    }
    if (p.writable && operator) actions.append(writeForm(p));
    return h('tr', { dataset: { key: p.key } }, h('th', { scope: 'row', text: p.path }), cell, tsCell, actions);
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data values-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('col.point') }), h('th', { scope: 'col', text: t('col.value') }),
      h('th', { scope: 'col', text: t('col.sourceTime') }), h('th', { scope: 'col', text: t('col.actions') }))),
    h('tbody', {}, rows)));
}

function parseInput(p, raw) {
  if (p.type === 'xs:boolean') return raw === 'true';
  if (p.numeric) {
    const n = Number(String(raw).trim().replace(',', '.'));
    if (String(raw).trim() === '' || !isFinite(n)) throw new Error(t('write.notNumber'));
    return n;
  }
  return raw;
}

const same = (a, b) => (typeof a === 'number' && typeof b === 'number'
  ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)) : a === b);

// a write is confirmed when the machine's own value comes back through the live stream
function writeForm(p, { label, options } = {}) {
  const id = `w-${p.key.replace(/[^A-Za-z0-9]/g, '-')}`;
  const input = options
    ? h('select', { id, 'aria-label': label || t('write.newValue', { path: p.path }) }, options.map((o) => h('option', { value: o, text: t(`mode.${o}`) })))
    : p.type === 'xs:boolean'
      ? h('select', { id, 'aria-label': t('write.newValue', { path: p.path }) }, h('option', { value: 'true', text: t('bool.true') }), h('option', { value: 'false', text: t('bool.false') }))
      : h('input', { id, type: 'text', inputmode: p.numeric ? 'decimal' : 'text', size: p.numeric ? 7 : 14, autocomplete: 'off',
        'aria-label': label || t('write.newValue', { path: p.path }) });
  const button = h('button', { type: 'submit', class: 'primary small', text: t('write.action') });
  const status = h('span', { class: 'write-status small', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'write-form', dataset: { key: p.key } }, input, button, status);
  let pending = null;
  bind(p.key, (e) => {
    if (!pending) return;
    if (e[1] === 'Good' && same(e[0], pending.value)) {
      status.textContent = t('write.confirmed', { time: fmt.time(e[3]) });
      status.dataset.state = 'confirmed';
      clearTimeout(pending.timer);
      pending = null;
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let value;
    try { value = parseInput(p, input.value); } catch (e) { status.textContent = e.message; status.dataset.state = 'error'; return; }
    button.disabled = true;
    status.dataset.state = 'sending';
    status.textContent = t('write.sending');
    try {
      await writeValue(p.smId, p.path, value);
      status.dataset.state = 'waiting';
      status.textContent = t('write.waiting');
      if (pending) clearTimeout(pending.timer);
      pending = { value, timer: setTimeout(() => { if (pending) { status.textContent = t('write.noConfirm'); status.dataset.state = 'unconfirmed'; pending = null; } }, 15000) };
      const current = live.valueOf(p.key);
      if (current && current[1] === 'Good' && same(current[0], value)) {
        status.textContent = t('write.confirmed', { time: fmt.time(current[3]) });
        status.dataset.state = 'confirmed';
        clearTimeout(pending.timer);
        pending = null;
      }
    } catch (e) {
      status.dataset.state = 'error';
      status.textContent = t('write.failed', { text: e.message });
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function kpiBoard(a, key, byKey, disposers) {
  const tile = (group, name, kind, path = `CurrentShift.${name}`) => {
    const k = key(KPI, path);
    const v = h('span', { class: 'big', text: '—' });
    bind(k, (e) => {
      const [val, q] = e;
      const ok = q !== 'Bad' && val !== null && val !== undefined;
      v.textContent = !ok ? '—' : kind === 'pct' ? fmt.pct(val) : kind === 'text' ? String(val) : fmt.num(val);
      v.classList.toggle('q-uncertain', q === 'Uncertain');
    });
    const unit = byKey[k] && byKey[k].unit;
    return h('div', { class: 'tile', dataset: { kpi: path } }, h('span', { class: 'k', text: t(`kpi.${name}`) }), v,
      unit && kind !== 'pct' && unit !== '1/h' ? h('span', { class: 'unit small', text: unit }) : null);
  };
  const groups = [
    ['P', [tile('P', 'OEE', 'pct'), tile('P', 'Availability', 'pct'), tile('P', 'Effectiveness', 'pct'), tile('P', 'ThroughputRate', 'num')]],
    ['Q', [tile('Q', 'QualityRatio', 'pct'), tile('Q', 'ScrapRatio', 'pct'), tile('Q', 'GoodQuantity', 'num'), tile('Q', 'ScrapQuantity', 'num')]],
    ['C', [tile('C', 'EnergyPerGoodPart', 'num'), tile('C', 'EnergyConsumption', 'num')]],
    ['D', [tile('D', 'OrderId', 'text', 'Order.OrderId'), tile('D', 'Progress', 'pct', 'Order.Progress'),
      tile('D', 'PlannedQuantity', 'num', 'Order.PlannedQuantity'), tile('D', 'ExpectedCompletion', 'text', 'Order.ExpectedCompletion')]],
  ];
  const shiftName = h('span', { class: 'small muted' });
  bind(key(KPI, 'CurrentShift.Name'), (e) => { shiftName.textContent = e[0] ? t('kpi.shiftNamed', { name: e[0] }) : ''; });
  const history = h('div', { class: 'shift-history' }, h('p', { class: 'small muted', text: t('trend.loading') }));
  loadShiftHistory(a, history);
  const timer = setInterval(() => loadShiftHistory(a, history), 60000);
  disposers.push(() => clearInterval(timer));
  return h('section', { class: 'card kpi-board', 'aria-labelledby': 'kpi-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'kpi-title', text: t('kpi.title') }), shiftName),
    h('div', { class: 'pqcd' }, groups.map(([g, tiles]) => h('div', { class: `pqcd-group g-${g}` },
      h('h3', { text: t(`kpi.group.${g}`) }), h('div', { class: 'tiles' }, tiles)))),
    h('h3', { text: t('kpi.history') }), history);
}

const SHIFT_COLS = ['Name', 'OEE', 'Availability', 'Effectiveness', 'QualityRatio', 'ProducedQuantity', 'GoodQuantity', 'ScrapQuantity'];

async function loadShiftHistory(a, el) {
  const smId = a.submodels[KPI];
  const from = new Date(Date.now() - 7 * 86400 * 1000).toISOString();
  try {
    const cols = await Promise.all(SHIFT_COLS.map((c) => get(`${elementUrl(smId, `LastShift.${c}`)}/history?from=${encodeURIComponent(from)}&limit=200`)));
    const rows = new Map();
    cols.forEach((r, i) => {
      for (const s of r.samples) {
        if (!rows.has(s.timestamp)) rows.set(s.timestamp, {});
        rows.get(s.timestamp)[SHIFT_COLS[i]] = s.statusCode >= 0x80000000 ? null : s.value;
      }
    });
    const sorted = [...rows.entries()].sort((x, y) => (x[0] < y[0] ? 1 : -1));
    if (!sorted.length) { replace(el, h('p', { class: 'small muted', text: t('kpi.noShift') })); return; }
    const pctCols = new Set(['OEE', 'Availability', 'Effectiveness', 'QualityRatio']);
    replace(el, h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('col.shiftStart') }), SHIFT_COLS.map((c) => h('th', { scope: 'col', text: t(`kpi.${c}`) })))),
      h('tbody', {}, sorted.map(([ts, r]) => h('tr', {}, h('td', { text: fmt.dateTime(ts) }),
        SHIFT_COLS.map((c) => h('td', { class: c === 'Name' ? '' : 'num', text: c === 'Name' ? (r[c] ?? '—') : pctCols.has(c) ? fmt.pct(r[c]) : fmt.num(r[c]) }))))))));
  } catch (e) {
    replace(el, h('p', { class: 'error small', text: t('trend.error', { text: e.message }) }));
  }
}

function operatorInputs(a, key, byKey) {
  const row = (path, label, opts = {}) => {
    const p = byKey[key(KPI, path)];
    if (!p) return null;
    const current = h('span', { class: 'value' });
    bind(p.key, (e) => renderValue(current, e, { type: p.type, unit: p.unit }));
    return h('div', { class: 'input-row' }, h('span', { class: 'k', text: label }), current,
      writeForm(p, { label, ...opts }));
  };
  return h('section', { class: 'card operator', 'aria-labelledby': 'op-title' },
    h('h2', { id: 'op-title', text: t('op.title') }),
    h('p', { class: 'small muted', text: t('op.intro') }),
    row('OperatorInputs.OperationMode', t('op.mode'), { options: MODES }),
    row('OperatorInputs.DowntimeReason', t('op.reason')),
    row('Order.OrderId', t('op.order')),
    row('Order.PlannedQuantity', t('op.planned')));
}

function alarmsCard(a, key, byKey) {
  const operator = can('operator');
  const smId = a.submodels[AD];
  const rows = a.alarms.map((name) => {
    const field = (f) => key(AD, `Alarms.${name}.${f}`);
    const state = h('td'); const cause = h('td'); const message = h('td', { class: 'small' }); const score = h('td', { class: 'num' });
    const ackCell = h('td');
    const ack = operator ? h('button', { type: 'button', class: 'primary small', hidden: true, text: t('alarm.ack'),
      'aria-label': t('alarm.ackOf', { name }) }) : null;
    const ackStatus = h('span', { class: 'small write-status', role: 'status' });
    if (ack) {
      ack.addEventListener('click', async () => {
        ack.disabled = true;
        try { await writeValue(smId, `Alarms.${name}.Acknowledged`, true); ackStatus.textContent = t('alarm.acked'); } catch (e) { ackStatus.textContent = t('write.failed', { text: e.message }); } finally { ack.disabled = false; }
      });
      ackCell.append(ack, ' ', ackStatus);
    }
    const tr = h('tr', { dataset: { alarm: name } }, h('th', { scope: 'row', text: name.replace(/_/g, '.') }), state, cause, message, score, ackCell);
    bind(field('State'), (e) => {
      const s = e[1] === 'Bad' ? null : e[0];
      replace(state, s ? h('span', { class: `chip alarm-${s}`, text: t(`alarm.${s}`) }) : '—');
      tr.classList.toggle('alarm-open', !!s && s !== 'Normal');
      if (ack) ack.hidden = !ACKABLE.has(s);
    });
    bind(field('Cause'), (e) => { cause.textContent = e[0] || '—'; });
    bind(field('Message'), (e) => { message.textContent = e[0] || ''; });
    bind(field('Score'), (e) => { score.textContent = fmt.num(e[0]); });
    return tr;
  });
  const status = h('span', { class: 'small muted' });
  bind(key(AD, 'Status'), (e) => { status.textContent = e[0] ? t('alarm.detector', { status: e[0] }) : ''; });
  return h('section', { class: 'card alarms-card', 'aria-labelledby': 'alarms-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'alarms-title', text: t('alarm.title') }), status),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, [t('col.alarm'), t('col.state'), t('col.cause'), t('col.message'), t('col.score'), t('col.actions')].map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, rows))));
}

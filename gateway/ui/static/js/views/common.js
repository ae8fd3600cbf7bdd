// Pieces shared by the pages: quality-aware value cells, state and connection chips, the gateway strip.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import * as fmt from '../format.js';

export const CATEGORIES = ['production', 'setup', 'delay', 'down', 'not_planned', 'unknown'];

export function categoryChip(cat) {
  const c = CATEGORIES.includes(cat) ? cat : 'unknown';
  return h('span', { class: `chip cat-${c}`, dataset: { category: c }, text: t(`cat.${c}`) });
}

export function connectionChip(state) {
  const s = state || 'unknown';
  return h('span', { class: `chip conn-${s}`, dataset: { state: s }, text: t(`conn.${s}`) });
}

// A value as it may be shown: Good plainly; Uncertain and Bad marked, never passed off as current and good.
export function renderValue(el, entry, { type, unit } = {}) {
  const [v, quality, status, ts] = entry || [null, 'Bad', null, null];
  el.classList.toggle('q-bad', quality === 'Bad');
  el.classList.toggle('q-uncertain', quality === 'Uncertain');
  el.dataset.quality = quality || '';
  el.dataset.ts = ts || '';
  const parts = [h('span', { class: 'v', text: fmt.value(v, type) })];
  if (unit && v !== null && v !== undefined) parts.push(h('span', { class: 'unit', text: ` ${unit}` }));
  if (status === 0x80320000 && (v === null || v === undefined)) {
    parts.push(' ', h('span', { class: 'qbadge qbadge-nodata', text: t('q.nodata') }));
  } else if (quality && quality !== 'Good') {
    const code = typeof status === 'number' ? '0x' + status.toString(16).toUpperCase().padStart(8, '0') : '';
    parts.push(' ', h('span', { class: `qbadge qbadge-${quality.toLowerCase()}`, title: code,
      text: quality === 'Bad' ? t('q.bad') : t('q.uncertain') }));
  }
  replace(el, parts);
  el.title = ts ? t('value.sourceTime', { time: fmt.dateTime(ts) }) : '';
}

export function strip(body) {
  const s = body || {};
  const src = s.sources || { connected: 0, total: 0 };
  const hist = s.historian || {};
  const items = [
    h('div', { class: `strip-item ${src.connected < src.total ? 'warn' : ''}` },
      h('span', { class: 'k', text: t('strip.sources') }),
      h('span', { class: 'v', text: t('strip.sources.value', { n: src.connected, total: src.total }) })),
    h('div', { class: 'strip-item' }, h('span', { class: 'k', text: t('strip.historian') }),
      h('span', { class: 'v', text: fmt.bytes(hist.bytes) }),
      hist.lost ? h('span', { class: 'chip warn-chip', text: t('strip.lost', { n: hist.lost }) }) : null,
      hist.deadLettered ? h('span', { class: 'chip warn-chip', text: t('strip.refused', { n: hist.deadLettered }) }) : null,
      hist.healthy === false ? h('span', { class: 'chip warn-chip', text: t('strip.unhealthy') }) : null),
    h('div', { class: 'strip-item' }, h('span', { class: 'k', text: t('strip.forwarders') }),
      (s.forwarders || []).length
        ? (s.forwarders || []).map((f) => h('span', { class: `fw ${f.lag > 0 && f.state !== 'forwarding' ? 'warn' : ''}`,
          title: f.error || '', text: t('strip.fw', { name: f.name, lag: f.lag.toLocaleString() }) }))
        : h('span', { class: 'v muted', text: t('strip.none') })),
    h('div', { class: `strip-item ${(s.certificates || []).length ? 'warn' : ''}` },
      h('span', { class: 'k', text: t('strip.certs') }),
      (s.certificates || []).length
        ? s.certificates.map((c) => h('span', { class: 'chip warn-chip', title: `${c.subject} ${c.thumbprint}`,
          text: c.days < 0 ? t('strip.cert.expired', { subject: shortSubject(c.subject) })
            : t('strip.cert.expires', { subject: shortSubject(c.subject), days: Math.floor(c.days) }) }))
        : h('span', { class: 'v', text: t('strip.certs.ok') })),
  ];
  return items;
}

function shortSubject(subject) {
  const m = /CN=([^,]+)/.exec(subject || '');
  return m ? m[1] : subject;
}

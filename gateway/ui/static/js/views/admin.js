// Admin: API keys, OPC UA certificates (trust/untrust) and the audit log, all through the /admin routes.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { call, get } from '../api.js';
import * as live from '../live.js';
import * as fmt from '../format.js';

export async function renderAdmin(main) {
  live.close();
  const keys = h('section', { class: 'card', 'aria-labelledby': 'keys-title' });
  const certs = h('section', { class: 'card', 'aria-labelledby': 'certs-title' });
  const audit = h('section', { class: 'card', 'aria-labelledby': 'audit-title' });
  replace(main, h('h1', { class: 'page-title', text: t('admin.title') }), keys, certs, audit);
  await Promise.all([renderKeys(keys), renderCerts(certs), renderAudit(audit)]);
  return { dispose() {} };
}

function msg(el, text, error = false) {
  el.textContent = text;
  el.className = `small ${error ? 'error' : 'ok'}`;
}

async function renderKeys(el) {
  const status = h('p', { role: 'status' });
  const list = h('div', { class: 'table-wrap' });
  const name = h('input', { id: 'key-name', type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
  const role = h('select', { id: 'key-role' }, ['reader', 'operator', 'admin'].map((r) => h('option', { value: r, text: t(`role.${r}`) })));
  const days = h('input', { id: 'key-days', type: 'number', min: 1, max: 36500, step: 1, inputmode: 'numeric' });
  const created = h('div', { class: 'new-key', hidden: true, role: 'alert' });
  const form = h('form', { class: 'inline-form' },
    h('label', { for: 'key-name', text: t('keys.name') }), name,
    h('label', { for: 'key-role', text: t('keys.role') }), role,
    h('label', { for: 'key-days', text: t('keys.days') }), days,
    h('button', { type: 'submit', class: 'primary', text: t('keys.create') }));
  async function load() {
    try {
      const rows = await get('/admin/api-keys');
      replace(list, h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, [t('keys.id'), t('keys.name'), t('keys.role'), t('keys.created'), t('keys.expires'), t('col.actions')].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, rows.map((k) => h('tr', { dataset: { keyId: k.id } }, h('td', { class: 'mono', text: k.id }), h('td', { text: k.name }),
          h('td', { text: t(`role.${k.role}`) }), h('td', { text: fmt.dateTime(k.created) }), h('td', { text: k.expires ? fmt.dateTime(k.expires) : t('keys.never') }),
          h('td', {}, h('button', { type: 'button', class: 'danger small', 'aria-label': t('keys.revokeOf', { name: k.name }), text: t('keys.revoke'),
            onclick: async () => {
              if (!window.confirm(t('keys.confirmRevoke', { name: k.name }))) return;
              try { await call('DELETE', `/admin/api-keys/${encodeURIComponent(k.id)}`); msg(status, t('keys.revoked', { name: k.name })); load(); } catch (e) { msg(status, e.message, true); }
            } })))))));
    } catch (e) { msg(status, e.message, true); }
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.value.trim()) { msg(status, t('keys.nameMissing'), true); name.focus(); return; }
    try {
      const body = { name: name.value.trim(), role: role.value };
      if (days.value) body.expiresDays = Number(days.value);
      const k = await call('POST', '/admin/api-keys', body);
      replace(created, h('p', { text: t('keys.createdOnce', { name: k.name }) }), h('code', { class: 'mono key', text: k.key }));
      created.hidden = false;
      name.value = ''; days.value = '';
      msg(status, '');
      load();
    } catch (err) { msg(status, err.message, true); }
  });
  replace(el, h('h2', { id: 'keys-title', text: t('keys.title') }), form, created, status, list);
  await load();
}

async function renderCerts(el) {
  const status = h('p', { role: 'status' });
  const list = h('div', { class: 'table-wrap' });
  async function act(cert, action) {
    try {
      await call('POST', `/admin/pki/certificates/${encodeURIComponent(cert.thumbprint)}/${action}`);
      msg(status, t(`certs.done.${action}`, { subject: cert.subject }));
      load();
    } catch (e) { msg(status, e.message, true); }
  }
  async function load() {
    try {
      const rows = await get('/admin/pki/certificates');
      if (!rows.length) { replace(list, h('p', { class: 'muted', text: t('certs.none') })); return; }
      replace(list, h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, [t('certs.state'), t('certs.subject'), t('certs.thumbprint'), t('certs.notAfter'), t('col.actions')].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, rows.map((c) => h('tr', { dataset: { thumbprint: c.thumbprint } }, h('td', {}, h('span', { class: `chip cert-${c.state}`, text: t(`certs.${c.state}`) })),
          h('td', { text: c.subject }), h('td', { class: 'mono small', text: c.thumbprint }), h('td', { text: fmt.dateTime(c.not_after) }),
          h('td', {}, c.state === 'rejected' ? h('button', { type: 'button', class: 'primary small', text: t('certs.trust'), onclick: () => act(c, 'trust') })
            : c.state === 'trusted' ? h('button', { type: 'button', class: 'danger small', text: t('certs.untrust'), onclick: () => act(c, 'untrust') }) : null))))));
    } catch (e) { msg(status, e.message, true); }
  }
  replace(el, h('h2', { id: 'certs-title', text: t('certs.title') }), status, list);
  await load();
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function renderAudit(el) {
  const now = new Date();
  const from = h('input', { id: 'audit-from', type: 'datetime-local', value: localInput(new Date(now - 7 * 86400000)) });
  const to = h('input', { id: 'audit-to', type: 'datetime-local', value: '' });
  const actor = h('input', { id: 'audit-actor', type: 'text', autocomplete: 'off' });
  const action = h('select', { id: 'audit-action' }, ['', 'write', 'pki', 'apikey', 'ui'].map((a) => h('option', { value: a, text: a ? t(`audit.action.${a}`) : t('audit.any') })));
  const result = h('select', { id: 'audit-result' }, ['', 'ok', 'denied', 'error', 'refused', 'not_found'].map((r) => h('option', { value: r, text: r ? t(`audit.result.${r}`) : t('audit.any') })));
  const status = h('p', { role: 'status', class: 'small muted' });
  const list = h('div', { class: 'table-wrap' });
  const form = h('form', { class: 'inline-form', id: 'audit-form' },
    h('label', { for: 'audit-from', text: t('audit.from') }), from, h('label', { for: 'audit-to', text: t('audit.to') }), to,
    h('label', { for: 'audit-actor', text: t('audit.actor') }), actor, h('label', { for: 'audit-action', text: t('audit.actionLabel') }), action,
    h('label', { for: 'audit-result', text: t('audit.resultLabel') }), result,
    h('button', { type: 'submit', class: 'primary', text: t('audit.search') }));
  const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  async function load() {
    const q = new URLSearchParams({ limit: '500' });
    if (from.value) q.set('from', new Date(from.value).toISOString());
    if (to.value) q.set('to', new Date(to.value).toISOString());
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (action.value) q.set('action', action.value);
    if (result.value) q.set('result', result.value);
    status.textContent = t('trend.loading');
    try {
      const r = await get(`/admin/audit?${q}`);
      status.textContent = t(r.truncated ? 'audit.countTruncated' : 'audit.count', { n: r.records.length, matched: r.matched });
      replace(list, h('table', { class: 'data audit' },
        h('thead', {}, h('tr', {}, ['time', 'actor', 'source', 'action', 'target', 'old', 'new', 'result', 'detail'].map((c) => h('th', { scope: 'col', text: t(`audit.col.${c}`) })))),
        h('tbody', {}, r.records.map((rec) => h('tr', { class: String(rec.result).startsWith('ok') ? '' : 'not-ok' },
          h('td', { text: fmt.dateTime(rec.ts) }), h('td', { text: cell(rec.actor) }), h('td', { class: 'small', text: cell(rec.source) }),
          h('td', { text: cell(rec.action) }), h('td', { class: 'small target', text: cell(rec.target) }), h('td', { class: 'small', text: cell(rec.old) }),
          h('td', { class: 'small', text: cell(rec.new) }), h('td', { text: cell(rec.result) }), h('td', { class: 'small', text: cell(rec.detail) }))))));
    } catch (e) { status.textContent = e.message; }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  replace(el, h('h2', { id: 'audit-title', text: t('audit.title') }), form, status, list);
  await load();
}

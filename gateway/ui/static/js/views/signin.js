// Sign-in: an API key (kept on the server, the browser gets only an HttpOnly session cookie) or the IdP.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { call, get } from '../api.js';

export async function renderSignIn(main, { error, expired, readOnly, done }) {
  let options = { oidc: null };
  try { options = await get('/ui/auth/config', { quiet401: true }); } catch (_) { /* offer the key form */ }
  const status = h('p', { id: 'signin-status', class: 'error', role: 'alert' });
  if (error) status.textContent = t('signin.failed', { text: error });
  else if (expired) status.textContent = t('signin.expired');
  const key = h('input', { id: 'apikey', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'apikey-help', placeholder: 'agw_…' });
  const submit = h('button', { type: 'submit', class: 'primary', text: t('signin.action') });
  const form = h('form', { class: 'signin-form', novalidate: true },
    h('label', { for: 'apikey', text: t('signin.apikey') }), key,
    h('p', { id: 'apikey-help', class: 'muted', text: t('signin.apikey.help') }), submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = key.value.trim();
    if (!value) { status.textContent = t('signin.missing'); key.focus(); return; }
    submit.disabled = true;
    status.textContent = '';
    try {
      await call('POST', '/ui/auth/login', { apiKey: value }, { quiet401: true });
      key.value = '';
      await done();
    } catch (err) {
      status.textContent = t('signin.failed', { text: err.message });
      key.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h('section', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', text: t('signin.title') }),
    h('p', { class: 'muted', text: t('signin.intro') }),
    status, form,
    options.oidc ? h('div', { class: 'sso' }, h('p', { class: 'or', text: t('signin.or') }),
      h('a', { class: 'button primary', href: '/ui/auth/oidc/start', id: 'sso', text: options.oidc.label || t('signin.sso') })) : null,
    readOnly ? h('p', {}, h('a', { href: '#/', text: t('signin.readonly') })) : null));
  key.focus();
  return { dispose() {} };
}

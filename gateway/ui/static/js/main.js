// Boot, header and routing (#/, #/asset/<idShort>, #/admin, #/signin). One live stream per browser.
import { $, h, replace } from './dom.js';
import { applyStatic, currentLang, onLangChange, setLang, t } from './i18n.js';
import { call, can, clearSession, loadSession, session, setUnauthorizedHandler } from './api.js';
import * as live from './live.js';
import { renderSignIn } from './views/signin.js';
import { renderOverview } from './views/overview.js';
import { renderAsset } from './views/asset.js';
import { renderAdmin } from './views/admin.js';

const main = $('#main');
let current = null; // {name, arg, dispose}
let signedIn = false;

function parseRoute() {
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'asset' && parts[1]) return { name: 'asset', arg: parts[1], params };
  if (parts[0] === 'admin') return { name: 'admin', params };
  if (parts[0] === 'signin') return { name: 'signin', params };
  return { name: 'overview', params };
}

function banner(text) {
  const b = $('#banner');
  b.hidden = !text;
  b.textContent = text || '';
}

function renderHeader() {
  $('#gw-name').textContent = session.gateway || '';
  $('#nav-admin').hidden = !can('admin');
  const who = $('#who');
  if (signedIn && session.subject) {
    const role = can('admin') ? 'admin' : can('operator') ? 'operator' : 'reader';
    replace(who, h('span', { class: 'subject', text: session.subject.replace(/^(apikey|jwt):/, '') }), ' ',
      h('span', { class: `role role-${role}`, text: t(`role.${role}`) }));
  } else {
    replace(who);
  }
  $('#signout').hidden = !(signedIn && session.method && session.method !== 'anonymous');
  $('#signin-link').hidden = !(signedIn && session.method === 'anonymous');
  for (const a of document.querySelectorAll('#nav a')) {
    const route = parseRoute().name;
    const on = (a.id === 'nav-overview' && (route === 'overview' || route === 'asset')) ||
      (a.id === 'nav-admin' && route === 'admin');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function route() {
  const r = parseRoute();
  if (current && current.dispose) current.dispose();
  current = null;
  banner(null);
  if (r.name === 'signin' || !signedIn) {
    if (r.name !== 'signin' && !signedIn && location.hash !== '#/' && location.hash !== '') {
      location.hash = '#/signin';
      return;
    }
    live.close();
    renderHeader();
    current = await renderSignIn(main, {
      error: r.params.get('error'),
      expired: r.params.get('expired') === '1',
      readOnly: signedIn && session.method === 'anonymous',
      done: async () => {
        await boot();
        if (location.hash === '#/' || location.hash === '') route(); else location.hash = '#/';
      },
    });
    return;
  }
  renderHeader();
  try {
    if (r.name === 'asset') current = await renderAsset(main, r.arg);
    else if (r.name === 'admin') current = await renderAdmin(main);
    else current = await renderOverview(main);
  } catch (e) {
    replace(main, h('p', { class: 'error', role: 'alert', text: t('error.load', { text: e.message }) }));
  }
  main.focus({ preventScroll: true });
}

async function boot() {
  try {
    await loadSession();
    signedIn = true;
  } catch (e) {
    signedIn = false;
    clearSession();
  }
  renderHeader();
}

function expired() {
  signedIn = false;
  clearSession();
  live.close();
  location.hash = '#/signin?expired=1';
}

async function signOut() {
  try { await call('POST', '/ui/auth/logout'); } catch (_) { /* signed out anyway */ }
  signedIn = false;
  clearSession();
  live.close();
  location.hash = '#/signin';
}

setUnauthorizedHandler(() => { if (signedIn) expired(); });
live.setExpiredHandler(expired);
live.onLiveState((s) => {
  const el = $('#live');
  el.className = `live live-${s}`;
  el.textContent = signedIn ? live.liveLabel(s) : '';
});

const langSelect = $('#lang');
langSelect.value = currentLang();
langSelect.addEventListener('change', () => setLang(langSelect.value));
onLangChange(() => {
  langSelect.value = currentLang();
  $('#live').textContent = signedIn ? live.liveLabel(live.liveState()) : '';
  route();
});
$('#signout').addEventListener('click', signOut);
window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/') || location.hash === '' || location.hash === '#') route();
});
// keyboard: "g" then "o" (overview) or "a" (admin); "/" focuses the first filter or input of the page
let pendingG = false;
document.addEventListener('keydown', (e) => {
  if (e.target.closest('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
  if (pendingG && e.key === 'o') { location.hash = '#/'; pendingG = false; return; }
  if (pendingG && e.key === 'a' && can('admin')) { location.hash = '#/admin'; pendingG = false; return; }
  pendingG = e.key === 'g';
});

applyStatic();
boot().then(route);

// The dashboard's calls: its own /ui routes, the AAS API (history, writes) and /admin, all same-origin.
// The session cookie goes along by itself; every write carries the session's CSRF token.

export const API = '/api/v3.0';

export const session = { subject: null, roles: [], csrf: null, method: null, gateway: '', oidc: false };

export const can = (role) => session.roles.includes(role);

export class ApiError extends Error {
  constructor(status, text) { super(text); this.status = status; }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function errorText(r) {
  try {
    const body = await r.json();
    const m = body && body.messages && body.messages[0];
    if (m && m.text) return m.text;
  } catch (_) { /* not JSON */ }
  return `HTTP ${r.status}`;
}

export async function call(method, url, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (session.csrf) headers['X-CSRF-Token'] = session.csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  const r = await fetch(url, init);
  if (r.status === 401 && !quiet401) onUnauthorized();
  if (!r.ok) throw new ApiError(r.status, await errorText(r));
  if (r.status === 204) return null;
  const type = r.headers.get('content-type') || '';
  return type.includes('json') ? r.json() : r.text();
}

export const get = (url, opts) => call('GET', url, undefined, opts);

export function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function elementUrl(smId, path) {
  return `${API}/submodels/${b64url(smId)}/submodel-elements/${encodeURIComponent(path)}`;
}

export async function loadSession() {
  const s = await get('/ui/api/session', { quiet401: true });
  Object.assign(session, s);
  return s;
}

export function clearSession() {
  Object.assign(session, { subject: null, roles: [], csrf: null, method: null });
}

export const writeValue = (smId, path, value) => call('PATCH', `${elementUrl(smId, path)}/$value`, value);

// Labels in English and Korean; the choice is kept in localStorage and applied to <html lang>.
import en from './i18n/en.js';
import ko from './i18n/ko.js';

const DICTS = { en, ko };
const KEY = 'agw.lang';
let lang = localStorage.getItem(KEY) || ((navigator.language || '').toLowerCase().startsWith('ko') ? 'ko' : 'en');
if (!DICTS[lang]) lang = 'en';
const listeners = new Set();

export function t(key, params = {}) {
  let s = DICTS[lang][key];
  if (s === undefined) s = en[key];
  if (s === undefined) return key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (params[k] !== undefined ? String(params[k]) : `{${k}}`));
}

export const currentLang = () => lang;
export const locale = () => (lang === 'ko' ? 'ko-KR' : 'en-GB');

export function setLang(next) {
  if (!DICTS[next] || next === lang) return;
  lang = next;
  localStorage.setItem(KEY, lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) { listeners.add(fn); }

// labels written into index.html (data-i18n: text, data-i18n-aria: aria-label)
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

export const hasKey = (key) => key in en;

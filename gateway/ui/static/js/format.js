// How values, ratios, sizes and times read on screen (in the chosen language's conventions).
import { locale, t } from './i18n.js';

export function num(v, digits = 3) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'string') return v; // "NaN", "INF" as ValueOnly writes them
  if (typeof v !== 'number') return String(v);
  const abs = Math.abs(v);
  const frac = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? Math.min(digits, 2) : digits;
  return v.toLocaleString(locale(), { maximumFractionDigits: frac });
}

export function value(v, type) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? t('bool.true') : t('bool.false');
  if (typeof v === 'number') return num(v);
  if (typeof v === 'object') return JSON.stringify(v);
  if (type === 'xs:dateTime') return dateTime(v);
  return String(v);
}

export function pct(v) {
  if (typeof v !== 'number' || !isFinite(v)) return '—';
  return (v * 100).toLocaleString(locale(), { maximumFractionDigits: 1 }) + ' %';
}

export function bytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return n.toLocaleString(locale(), { maximumFractionDigits: i ? 1 : 0 }) + ' ' + units[i];
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(locale(), { dateStyle: 'short', timeStyle: 'medium' });
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleTimeString(locale());
}

export function age(iso, now = Date.now()) {
  if (!iso) return t('age.never');
  const s = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (s < 60) return t('age.s', { n: Math.floor(s) });
  if (s < 3600) return t('age.min', { n: Math.floor(s / 60) });
  if (s < 86400) return t('age.h', { n: Math.floor(s / 3600) });
  return t('age.d', { n: Math.floor(s / 86400) });
}

export function duration(seconds) {
  if (typeof seconds !== 'number' || !isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}` : `${mm}:${String(ss).padStart(2, '0')}`;
}

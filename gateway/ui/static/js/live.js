// One Server-Sent Events stream per browser: the values and status of the view on screen.
// Views subscribe to point keys; while the stream is down every value is marked as not live.
import { t } from './i18n.js';

const values = new Map(); // key -> [value, quality, status, sourceTime]
const watchers = new Map(); // key -> Set<fn(entry)>
const statusWatchers = new Set();
let source = null;
let view = null;
let state = 'off';
let lastStatus = null;
const stateWatchers = new Set();
let onExpired = () => {};

export const valueOf = (key) => values.get(key);
export const liveState = () => state;
export const lastStatusOf = () => lastStatus;

export function setExpiredHandler(fn) { onExpired = fn; }

export function seed(map) {
  for (const [k, v] of Object.entries(map || {})) values.set(k, v);
}

export function watch(key, fn) {
  if (!watchers.has(key)) watchers.set(key, new Set());
  watchers.get(key).add(fn);
  const v = values.get(key);
  if (v) fn(v);
}

export function watchStatus(fn) {
  statusWatchers.add(fn);
  if (lastStatus) fn(lastStatus);
}

export function onLiveState(fn) { stateWatchers.add(fn); fn(state); }

function setState(s) {
  state = s;
  document.body.classList.toggle('stream-down', s !== 'live');
  for (const fn of stateWatchers) fn(s);
}

export function open(nextView) {
  if (source && view === nextView) return;
  close();
  watchers.clear();
  statusWatchers.clear();
  lastStatus = null;
  view = nextView;
  setState('connecting');
  source = new EventSource(`/ui/api/stream?view=${encodeURIComponent(nextView)}`);
  source.addEventListener('open', () => setState('live'));
  source.addEventListener('error', () => {
    if (source && source.readyState === EventSource.CLOSED) setState('off');
    else setState('connecting');
  });
  source.addEventListener('values', (e) => {
    const v = JSON.parse(e.data).v;
    for (const [k, entry] of Object.entries(v)) {
      values.set(k, entry);
      const fns = watchers.get(k);
      if (fns) for (const fn of fns) fn(entry);
    }
  });
  source.addEventListener('status', (e) => {
    lastStatus = JSON.parse(e.data);
    for (const fn of statusWatchers) fn(lastStatus);
  });
  source.addEventListener('expired', () => { close(); onExpired(); });
}

export function close() {
  if (source) source.close();
  source = null;
  view = null;
  setState('off');
}

export function liveLabel(s) {
  return { live: t('live.on'), connecting: t('live.connecting'), off: t('live.off') }[s] || s;
}

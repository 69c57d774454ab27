// How values look on the page: short digests and commits, relative times with the exact time
// beside them, and the state badge of an app. Pure functions of their input (and `now`).
import { h } from './dom.js';

/** `sha256:0123456789ab…` (12 hex digits, enough to tell builds apart on one screen). */
export function shortDigest(d) {
  if (!d) return '—';
  const [algo, hex] = String(d).split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}…` : String(d).slice(0, 19);
}

export function shortCommit(c) {
  return c ? String(c).slice(0, 7) : '—';
}

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const STEPS = [
  [60, 'second'],
  [60, 'minute'],
  [24, 'hour'],
  [30, 'day'],
  [12, 'month'],
  [Infinity, 'year'],
];

/** "3 minutes ago" for an ISO time. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso ?? '—');
  let v = (t - now) / 1000;
  for (const [size, unit] of STEPS) {
    if (Math.abs(v) < size) return rtf.format(Math.round(v), unit);
    v /= size;
  }
  return iso;
}

/** A <time> element: relative text, the exact UTC time as its title and datetime. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: new Date(iso).toISOString() }, relativeTime(iso));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * The state of an app summary, worst first: no releases, not running (local target), drift
 * (with the problem), in sync. The target is a separate badge.
 */
export function appState(s) {
  if (!s.current) return { kind: 'none', label: 'no releases', detail: null };
  if (s.target !== 'kubernetes' && !s.running) return { kind: 'stopped', label: 'not running', detail: s.problem };
  if (!s.inSync) return { kind: 'drift', label: 'drift', detail: s.problem ?? `runs ${s.running ?? 'nothing'}` };
  return { kind: 'ok', label: 'in sync', detail: null };
}

export function stateBadge(s) {
  const st = appState(s);
  return h(
    'span',
    { class: 'state-cell' },
    h('span', { class: `badge badge-${st.kind}` }, st.label),
    st.detail ? h('span', { class: 'problem' }, st.detail) : null,
  );
}

export function targetBadge(target) {
  return h('span', { class: `badge badge-target-${target === 'kubernetes' ? 'kube' : 'local'}` }, target ?? 'local');
}

/** Who signed a release: the `signer` key id the releases page carries (null: unsigned). */
export function signerOf(r) {
  return typeof r.signer === 'string' && r.signer && r.signer !== 'unsigned' ? r.signer : null;
}

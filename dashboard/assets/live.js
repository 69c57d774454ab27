// The live event stream: one EventSource on /api/events while signed in. Views subscribe for
// the activities they show (releases, switches, restarts, health failures, lease changes) and
// refresh only what changed, so the page never reloads. The browser reconnects by itself; the
// header shows when the stream is down.
import { replace } from './dom.js';

let source = null;
let onClosed = null;
const listeners = new Set();

/** `fn()` when the stream closed for good (not a reconnect): check the session, then startLive again. */
export function onLiveClosed(fn) {
  onClosed = fn;
}

/** `fn(activity)` for every activity; returns the unsubscribe function. */
export function onActivity(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setState(state) {
  const el = document.getElementById('live-state');
  if (!el) return;
  el.hidden = state === null;
  el.className = `live-state live-${state ?? 'off'}`;
  replace(el, state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…');
  el.setAttribute(
    'title',
    state === 'open' ? 'receiving live updates' : 'live updates are paused until the server answers',
  );
}

export function startLive() {
  if (source) return;
  setState('connecting');
  source = new EventSource('/api/events');
  source.addEventListener('open', () => setState('open'));
  source.addEventListener('error', () => {
    if (!source) return;
    if (source.readyState !== EventSource.CLOSED) return setState('error');
    // The browser gives up on an answer that is not a stream (401 after the session ended, 5xx):
    // let the page find out why, then start again.
    setState('closed');
    source.close();
    source = null;
    onClosed?.();
  });
  source.addEventListener('activity', (ev) => {
    let activity;
    try {
      activity = JSON.parse(ev.data);
    } catch {
      return;
    }
    for (const fn of listeners) {
      try {
        fn(activity);
      } catch (e) {
        console.error('activity listener failed', e);
      }
    }
  });
}

export function stopLive() {
  source?.close();
  source = null;
  setState(null);
}

/** One line saying what an activity was, for the live region and the activity list. */
export function describeActivity(a) {
  const d = a.detail ?? {};
  const rel = a.release ? ` ${a.release}` : '';
  switch (a.kind) {
    case 'release':
      return `${a.app}: new release${rel}${d.cause ? ` (${d.cause})` : ''}${d.actor ? ` by ${d.actor}` : ''}`;
    case 'switch-started':
      return `${a.app}: switching to${rel}`;
    case 'activated':
      return `${a.app}:${rel} is running`;
    case 'failed':
      return `${a.app}: switch to${rel} failed`;
    case 'rolled-back':
      return `${a.app}: switch to${rel} was rolled back`;
    case 'stopped':
      return `${a.app}: stopped`;
    case 'lease':
      return d.holder ? `${a.app}: deploy lease taken by ${d.holder}` : `${a.app}: deploy lease released`;
    case 'restart':
      return `${a.app}: ${d.type ?? 'process'}.${d.index ?? '?'} restarted (${d.restarts ?? '?'} restarts)`;
    case 'health-failure':
      return `${a.app}: ${d.type ?? 'process'}.${d.index ?? '?'} failed its health check${d.reason ? `: ${d.reason}` : ''}`;
    default:
      return `${a.app}: ${a.kind}${rel}`;
  }
}

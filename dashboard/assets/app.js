// Entry point: picks up the session cookie (or shows sign-in), then routes on the location hash
// (#/, #/apps/NAME, #/apps/NAME/diff/vA/vB). Moving between pages swaps the view in <main>; the
// document itself never reloads, so the event stream and the in-memory CSRF value survive.
import { onUnauthorized, restoreSession } from './api.js';
import { announce, h, replace } from './dom.js';
import { relativeTime } from './format.js';
import { startLive, stopLive, onActivity, onLiveClosed, describeActivity } from './live.js';
import { appView } from './app-page.js';
import { appsView, errorBlock, loadVerify, loginView, notFoundView, renderVerify, renderWho } from './views.js';

const main = document.getElementById('main');
let view = null;
let viewKey = null;
let signedIn = false;
let verifyTimer = null;

/** `{ name: 'apps' }`, `{ name: 'app', app, diff: { from, to } | null }`, `{ name: 'login' }`. */
function parseRoute(hash) {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { name: 'apps' };
  if (parts[0] === 'login' && parts.length === 1) return { name: 'login' };
  if (parts[0] === 'apps' && parts.length === 2) return { name: 'app', app: parts[1], diff: null };
  if (parts[0] === 'apps' && parts.length === 5 && parts[2] === 'diff') {
    return { name: 'app', app: parts[1], diff: { from: parts[3], to: parts[4] } };
  }
  return { name: 'unknown' };
}

function show(route) {
  const key = route.name === 'app' ? `app:${route.app}` : route.name;
  if (view && key === viewKey && view.update) return view.update(route);
  view?.destroy();
  viewKey = key;
  if (route.name === 'apps') view = appsView(main);
  else if (route.name === 'app') view = appView(main, route.app, route);
  else view = notFoundView(main);
  // Tell screen readers and keyboard users the page changed: focus its heading.
  main.querySelector('h1')?.focus();
}

function route() {
  if (!signedIn) return;
  const r = parseRoute(location.hash);
  if (r.name === 'login') {
    location.replace('#/');
    return;
  }
  show(r);
}

function showLogin() {
  signedIn = false;
  stopLive();
  clearInterval(verifyTimer);
  view?.destroy();
  view = null;
  viewKey = null;
  renderWho(() => {});
  renderVerify(null);
  view = loginView(main, { onSignedIn: enter });
}

function enter() {
  signedIn = true;
  renderWho(() => {
    announce('Signed out');
    showLogin();
  });
  startLive();
  loadVerify();
  // The server re-verifies every few minutes; read its latest result now and then.
  clearInterval(verifyTimer);
  verifyTimer = setInterval(loadVerify, 60_000);
  view?.destroy();
  view = null;
  viewKey = null;
  route();
}

onUnauthorized(() => {
  if (!signedIn) return;
  showLogin();
  announce('Your session ended; sign in again.');
});

// The event stream was refused: a session that ended goes back to sign-in (restoreSession's
// 401), anything else (a restarting server) is retried a few seconds later.
onLiveClosed(() => {
  setTimeout(async () => {
    if (!signedIn) return;
    try {
      if (await restoreSession()) startLive();
      else showLogin();
    } catch {
      if (signedIn) startLive();
    }
  }, 3000);
});

// Announce what matters across the console (on every page): releases and switch outcomes.
const ANNOUNCED = new Set(['release', 'activated', 'failed', 'rolled-back', 'health-failure']);
onActivity((a) => {
  if (ANNOUNCED.has(a.kind)) announce(describeActivity(a));
});

window.addEventListener('hashchange', route);

// Relative times ("2 minutes ago") age in place.
setInterval(() => {
  for (const t of document.querySelectorAll('time[datetime]')) t.textContent = relativeTime(t.getAttribute('datetime'));
}, 30_000);

(async () => {
  try {
    const s = await restoreSession();
    if (s) enter();
    else showLogin();
  } catch (e) {
    replace(main, h('h1', {}, 'brr console'), errorBlock(e));
  }
})();

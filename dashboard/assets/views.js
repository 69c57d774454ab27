// The small views: sign-in, the apps overview, the header (who is signed in) and the ledger
// verification status. The app page, the big one, is in app-page.js.
import { api, ApiError, can, currentSession, seg, signIn, signOut } from './api.js';
import { announce, h, replace } from './dom.js';
import { stateBadge, targetBadge, timeEl } from './format.js';
import { onActivity } from './live.js';

/** The error of an API call as a block: message, then the hint (what to do). */
export function errorBlock(e) {
  const err = e instanceof ApiError ? e : { message: String(e?.message ?? e), hint: '' };
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, err.message),
    err.hint ? h('p', { class: 'hint' }, err.hint) : null,
  );
}

export function pageTitle(text) {
  document.title = `${text} · brr console`;
  return h('h1', { tabindex: '-1' }, text);
}

/** Sign-in: paste a token, get the session cookie. The field is cleared whatever happens. */
export function loginView(main, { onSignedIn }) {
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const status = h('div', { class: 'login-status' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login card', 'aria-labelledby': 'login-title' },
    h('label', { for: 'token' }, 'Access token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'muted' },
      'A token from ',
      h('code', {}, 'brr tokens create NAME --role viewer|deployer|admin'),
      '. It is exchanged for a session cookie and not stored by this page.',
    ),
    button,
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    input.value = '';
    if (!token) return;
    button.disabled = true;
    replace(status);
    try {
      const s = await signIn(token);
      announce(`Signed in as ${s.name} (${s.role})`);
      onSignedIn();
    } catch (e) {
      replace(status, errorBlock(e));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  const title = pageTitle('Sign in');
  title.id = 'login-title';
  replace(main, h('section', { class: 'narrow' }, title, form));
  input.focus();
  return { destroy() {} };
}

/** The header's right side: who is signed in, and sign out. */
export function renderWho(onSignedOut) {
  const el = document.getElementById('who');
  const s = currentSession();
  if (!s) return replace(el);
  const out = h('button', { type: 'button', class: 'btn btn-small' }, 'Sign out');
  out.addEventListener('click', async () => {
    try {
      await signOut();
    } catch {}
    onSignedOut();
  });
  replace(el, h('span', { class: 'muted' }, `${s.name} · ${s.role}`), ' ', out);
}

/** The ledger verification status in the header, with "Verify now" for deployers. */
export function renderVerify(result) {
  const el = document.getElementById('verify');
  if (!result) return replace(el);
  const problems = Array.isArray(result.problems) ? result.problems : [];
  const state =
    result.ok === true
      ? h('span', { class: 'badge badge-ok' }, 'ledger verified')
      : result.ok === false
        ? h('span', { class: 'badge badge-drift' }, 'ledger verification failed')
        : h('span', { class: 'badge badge-none' }, 'ledger not verified yet');
  const counted =
    typeof result.releases === 'number' ? `${result.releases} releases, ${result.events ?? 0} events` : null;
  const when = result.checkedAt
    ? h('span', { class: 'muted', title: counted ?? '' }, ' ', timeEl(result.checkedAt))
    : null;
  let button = null;
  if (can('deployer')) {
    button = h('button', { type: 'button', class: 'btn btn-small' }, 'Verify now');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const r = await api('POST', '/api/verify');
        renderVerify(r);
        announce(r.ok ? 'Ledger verified: intact' : `Ledger verification failed: ${r.problems?.length ?? 0} problems`);
      } catch (e) {
        announce(`Verification did not run: ${e.message}`);
        button.disabled = false;
      }
    });
  }
  const details = problems.length
    ? h(
        'details',
        { class: 'problems' },
        h('summary', {}, `${problems.length} problem${problems.length === 1 ? '' : 's'}`),
        h(
          'ul',
          {},
          problems.map((p) =>
            h(
              'li',
              {},
              typeof p === 'string' ? p : `${p.app ?? ''} ${p.kind ?? ''} #${p.seq ?? '?'}: ${p.problem ?? ''}`,
            ),
          ),
        ),
      )
    : null;
  replace(el, state, when, ' ', button, details);
}

export async function loadVerify() {
  try {
    renderVerify(await api('GET', '/api/verify'));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) replace(document.getElementById('verify'), errorBlock(e));
  }
}

/** The apps overview: one row per app with its target and state; refreshed by live activity. */
export function appsView(main) {
  const body = h('div', { class: 'apps-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading apps…'));
  replace(main, pageTitle('Apps'), body);
  let timer = null;
  let alive = true;

  async function load() {
    try {
      const { apps } = await api('GET', '/api/apps');
      if (!alive) return;
      body.setAttribute('aria-busy', 'false');
      if (!apps.length) {
        return replace(
          body,
          h(
            'p',
            { class: 'empty' },
            'No apps yet: deploy one with ',
            h('code', {}, 'brr deploy'),
            ' and it appears here.',
          ),
        );
      }
      replace(
        body,
        h(
          'table',
          { class: 'apps' },
          h('caption', { class: 'sr-only' }, 'Apps, their target, releases and state'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['App', 'Target', 'Current', 'Running', 'State', 'Latest change'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            apps.map((a) =>
              h(
                'tr',
                { 'data-app': a.app },
                h('th', { scope: 'row' }, h('a', { href: `#/apps/${seg(a.app)}` }, a.app)),
                h('td', {}, targetBadge(a.target)),
                h('td', {}, a.current ?? '—'),
                h('td', {}, a.running ?? '—'),
                h('td', {}, stateBadge(a)),
                h(
                  'td',
                  {},
                  a.latest
                    ? [
                        h('span', {}, `${a.latest.id} ${a.latest.cause}`),
                        h('span', { class: 'muted' }, ' by ', a.latest.actor, ', ', timeEl(a.latest.createdAt)),
                      ]
                    : '—',
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      if (alive) replace(body, errorBlock(e));
    }
  }
  const off = onActivity(() => {
    // Bursts (a switch is several events) become one reload.
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  load();
  return {
    destroy() {
      alive = false;
      off();
      clearTimeout(timer);
    },
  };
}

export function notFoundView(main) {
  replace(main, pageTitle('Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Back to the apps')));
  return { destroy() {} };
}

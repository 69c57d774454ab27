// The page of one app: its state, the release timeline (paged, newest first) with a diff of any
// two releases, the rollback button and its confirmation, the live process table, a log tail and
// the app's recent activity. Live activity refreshes only the parts it touches; nothing reloads.
import { api, can, seg } from './api.js';
import { confirmDialog } from './dialog.js';
import { announce, h, newId, replace } from './dom.js';
import { duration, shortCommit, shortDigest, signerOf, stateBadge, targetBadge, timeEl } from './format.js';
import { describeActivity, onActivity } from './live.js';
import { errorBlock, pageTitle } from './views.js';

const PAGE = 50;
const SWITCH_KINDS = new Set(['switch-started', 'activated', 'failed', 'rolled-back', 'stopped']);
const PROCESS_KINDS = new Set([...SWITCH_KINDS, 'restart', 'health-failure']);
const MAX_LOG_LINES = 1000;

const seqOf = (id) => Number(String(id).replace(/^v/, ''));

export function appView(main, app, route) {
  const base = `/api/apps/${seg(app)}`;
  const state = {
    summary: null,
    releases: [],
    next: null,
    current: null,
    picked: new Set(),
    diff: null,
    fresh: new Set(),
  };
  let alive = true;
  const timers = {};
  const later = (name, fn, ms = 250) => {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(() => alive && fn(), ms);
  };

  // ── skeleton ──
  const summaryEl = h('div', { class: 'summary' }, h('p', { class: 'muted' }, 'Loading…'));
  const rollbackBtn = h('button', { type: 'button', class: 'btn btn-danger', disabled: true }, 'Roll back…');
  const rollbackNote = h('span', { id: newId('rb-note'), class: 'muted' });
  rollbackBtn.setAttribute('aria-describedby', rollbackNote.id);
  rollbackBtn.addEventListener('click', () => openRollback(null));

  const timelineBody = h('tbody');
  const pickStatus = h('span', { class: 'muted', id: newId('pick') });
  const compareBtn = h(
    'button',
    { type: 'button', class: 'btn', disabled: true, 'aria-describedby': pickStatus.id },
    'Compare selected',
  );
  compareBtn.addEventListener('click', () => {
    const [a, b] = [...state.picked].sort((x, y) => seqOf(x) - seqOf(y));
    location.hash = `#/apps/${seg(app)}/diff/${seg(a)}/${seg(b)}`;
  });
  const olderBtn = h('button', { type: 'button', class: 'btn', hidden: true }, 'Older releases');
  olderBtn.addEventListener('click', () => loadOlder());
  const releasesMsg = h('div');
  const diffEl = h('section', { class: 'card diff', 'aria-labelledby': 'diff-title', hidden: true });

  const procEl = h('div', {}, h('p', { class: 'muted' }, 'Loading processes…'));
  const procRefresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  procRefresh.addEventListener('click', () => loadProcesses());

  const logPre = h('pre', {
    class: 'logs',
    tabindex: '0',
    role: 'log',
    'aria-live': 'off',
    'aria-label': `Log tail of ${app}`,
  });
  const logState = h('span', { class: 'muted' }, 'connecting…');
  const logPause = h('button', { type: 'button', class: 'btn btn-small', 'aria-pressed': 'false' }, 'Pause');
  logPause.addEventListener('click', () => toggleLogPause());

  const activityList = h('ol', { class: 'activity' });

  replace(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Apps'), ' / ', app),
    pageTitle(app),
    h('div', { class: 'summary-row' }, summaryEl, h('div', { class: 'actions' }, rollbackBtn, ' ', rollbackNote)),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'rel-title' },
      h('h2', { id: 'rel-title' }, 'Releases'),
      h('div', { class: 'toolbar' }, compareBtn, ' ', pickStatus),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'timeline' },
          h('caption', { class: 'sr-only' }, `Releases of ${app}, newest first`),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Compare', 'Release', 'Cause', 'Actor', 'Time', 'Signer', 'Build', 'Commit', ''].map((t) =>
                h('th', { scope: 'col' }, t === '' ? h('span', { class: 'sr-only' }, 'Actions') : t),
              ),
            ),
          ),
          timelineBody,
        ),
      ),
      releasesMsg,
      olderBtn,
    ),
    diffEl,
    h(
      'div',
      { class: 'grid' },
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'proc-title' },
          h('div', { class: 'section-head' }, h('h2', { id: 'proc-title' }, 'Processes'), procRefresh),
          procEl,
        ),
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'act-title' },
          h('h2', { id: 'act-title' }, 'Activity'),
          activityList,
          h('p', { class: 'muted small' }, 'Live from the event stream since this page opened.'),
        ),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'log-title' },
        h('div', { class: 'section-head' }, h('h2', { id: 'log-title' }, 'Logs'), logState, logPause),
        logPre,
      ),
    ),
  );

  // ── summary and rollback ──
  async function loadSummary() {
    try {
      state.summary = await api('GET', base);
      if (!alive) return;
      const s = state.summary;
      replace(
        summaryEl,
        h(
          'dl',
          { class: 'facts' },
          h('div', {}, h('dt', {}, 'Target'), h('dd', {}, targetBadge(s.target))),
          h('div', {}, h('dt', {}, 'State'), h('dd', {}, stateBadge(s))),
          h('div', {}, h('dt', {}, 'Current'), h('dd', {}, s.current ?? '—')),
          h('div', {}, h('dt', {}, 'Running'), h('dd', {}, s.running ?? '—')),
        ),
      );
      // The timeline marks the running release: redraw it with the new summary.
      if (state.releases.length) renderTimeline();
      else updateRollbackButton();
    } catch (e) {
      if (alive) replace(summaryEl, errorBlock(e));
    }
  }

  function defaultTarget() {
    const cur = state.summary?.current ?? state.current;
    if (!cur) return null;
    const prev = seqOf(cur) - 1;
    return prev >= 1 ? `v${prev}` : null;
  }

  function updateRollbackButton() {
    const target = defaultTarget();
    const cur = state.summary?.current ?? state.current;
    if (!can('deployer')) {
      rollbackBtn.disabled = true;
      replace(rollbackNote, 'Rolling back needs the deployer role.');
    } else if (!target) {
      rollbackBtn.disabled = true;
      replace(rollbackNote, cur ? `${cur} is the first release: nothing to roll back to.` : 'No releases yet.');
    } else {
      rollbackBtn.disabled = false;
      replace(rollbackBtn, `Roll back to ${target}…`);
      replace(rollbackNote);
    }
  }

  /** Opens the confirmation for rolling back to `to` (default: the release before the current one). */
  async function openRollback(to) {
    const from = state.summary?.current ?? state.current;
    const target = to ?? defaultTarget();
    if (!from || !target) return;
    let rel;
    try {
      // Read the target fresh: the dialog names exactly what will run.
      rel = (await api('GET', `${base}/releases/${seg(target)}`)).release;
    } catch (e) {
      announce(`Cannot roll back: ${e.message}`);
      return;
    }
    const sentence = `Roll back ${app} from ${from} to ${rel.id}: build ${shortDigest(rel.build.digest)} (commit ${shortCommit(rel.build.commit)}), config of ${rel.id}.`;
    const keys = Object.keys(rel.config ?? {}).length;
    const result = await confirmDialog({
      title: `Roll back ${app}?`,
      danger: true,
      confirmLabel: `Roll back to ${rel.id}`,
      body: [
        h('p', { class: 'what-runs' }, sentence),
        h(
          'p',
          { class: 'muted' },
          `A new release copying ${rel.id} (build, ${keys} config key${keys === 1 ? '' : 's'}, formation) is appended and run; ${from} stays in the history.`,
        ),
        h('p', { class: 'muted small' }, 'Full build digest: ', h('code', {}, rel.build.digest)),
      ],
      onConfirm: () => api('POST', `${base}/rollback`, { to: rel.id }),
    });
    if (!result) return;
    const id = result.release?.id ?? 'a new release';
    announce(`Rolled back ${app} to ${rel.id}: ${id} created`);
    refreshReleases();
    loadSummary();
    loadProcesses();
  }

  // ── release timeline ──
  function releaseRow(r) {
    const signer = signerOf(r);
    // The summary is re-read on every switch; the page's `current` only with a new release.
    const isCurrent = r.id === (state.summary?.current ?? state.current);
    const running = state.summary?.running === r.id;
    const pick = h('input', {
      type: 'checkbox',
      id: `pick-${r.id}`,
      checked: state.picked.has(r.id),
      'aria-label': `Compare ${r.id}`,
    });
    pick.addEventListener('change', () => {
      if (pick.checked) state.picked.add(r.id);
      else state.picked.delete(r.id);
      updatePick();
    });
    let action = null;
    if (can('deployer') && !isCurrent) {
      action = h('button', { type: 'button', class: 'btn btn-small' }, `Roll back to ${r.id}…`);
      action.addEventListener('click', () => openRollback(r.id));
    }
    return h(
      'tr',
      { 'data-release': r.id, class: isCurrent ? 'is-current' : null },
      h('td', {}, pick),
      h(
        'th',
        { scope: 'row' },
        h('span', { class: 'rel-id' }, r.id),
        isCurrent ? h('span', { class: 'badge badge-ok tag' }, 'current') : null,
        running && !isCurrent ? h('span', { class: 'badge badge-drift tag' }, 'running') : null,
      ),
      h('td', { class: 'cause' }, r.cause, r.message ? h('div', { class: 'muted small' }, r.message) : null),
      h('td', {}, r.actor),
      h('td', {}, timeEl(r.createdAt)),
      h(
        'td',
        {},
        signer ? h('code', {}, signer) : h('span', { class: 'muted' }, 'unsigned'),
        r.trusted === true ? h('span', { class: 'badge badge-ok tag' }, 'trusted') : null,
        r.trusted === false ? h('span', { class: 'badge badge-stopped tag' }, 'not trusted') : null,
      ),
      h('td', {}, h('code', { title: r.build?.digest ?? '' }, shortDigest(r.build?.digest))),
      h('td', {}, h('code', { title: r.build?.commit ?? '' }, shortCommit(r.build?.commit))),
      h('td', {}, action),
    );
  }

  function renderTimeline() {
    replace(
      timelineBody,
      state.releases.map((r) => {
        const row = releaseRow(r);
        if (state.fresh.has(r.id)) row.classList.add('fresh');
        return row;
      }),
    );
    olderBtn.hidden = !state.next;
    replace(releasesMsg, state.releases.length ? null : h('p', { class: 'empty' }, 'No releases yet.'));
    updatePick();
    updateRollbackButton();
  }

  function updatePick() {
    for (const id of [...state.picked]) if (!state.releases.some((r) => r.id === id)) state.picked.delete(id);
    const n = state.picked.size;
    compareBtn.disabled = n !== 2;
    replace(
      pickStatus,
      n === 2
        ? `${[...state.picked].sort((a, b) => seqOf(a) - seqOf(b)).join(' and ')} picked`
        : `Pick two releases to compare (${n} picked).`,
    );
  }

  async function loadFirstPage() {
    try {
      const r = await api('GET', `${base}/releases?limit=${PAGE}`);
      if (!alive) return;
      state.releases = r.releases;
      state.current = r.current;
      state.next = r.next;
      renderTimeline();
    } catch (e) {
      if (alive) replace(releasesMsg, errorBlock(e));
    }
  }

  /** After a new release: read the newest page and put what is new on top, keeping older pages loaded. */
  async function refreshReleases() {
    try {
      const r = await api('GET', `${base}/releases?limit=${PAGE}`);
      if (!alive) return;
      const known = new Set(state.releases.map((x) => x.id));
      const fresh = new Set(r.releases.filter((x) => !known.has(x.id)).map((x) => x.id));
      const oldestNew = r.releases.length ? seqOf(r.releases[r.releases.length - 1].id) : Infinity;
      const kept = state.releases.filter((x) => seqOf(x.id) < oldestNew);
      // If more than a page arrived at once, the gap is dropped and paging starts over from the page.
      const contiguous = kept.length === 0 || seqOf(kept[0].id) === oldestNew - 1;
      state.releases = contiguous ? [...r.releases, ...kept] : r.releases;
      if (!contiguous) state.next = r.next;
      state.current = r.current;
      state.fresh = fresh;
      later('fresh', () => (state.fresh = new Set()), 3000);
      renderTimeline();
    } catch (e) {
      if (alive) replace(releasesMsg, errorBlock(e));
    }
  }

  async function loadOlder() {
    if (!state.next) return;
    olderBtn.disabled = true;
    try {
      const r = await api('GET', `${base}/releases?limit=${PAGE}&before=${seg(state.next)}`);
      if (!alive) return;
      const firstNew = r.releases[0]?.id;
      state.releases = [...state.releases, ...r.releases];
      state.next = r.next;
      renderTimeline();
      // Keep the keyboard where the reader is: on the first row just loaded.
      if (firstNew) document.getElementById(`pick-${firstNew}`)?.focus();
    } catch (e) {
      replace(releasesMsg, errorBlock(e));
    } finally {
      olderBtn.disabled = false;
    }
  }

  // ── diff ──
  async function showDiff(from, to) {
    diffEl.hidden = false;
    replace(diffEl, h('h2', { id: 'diff-title' }, `Diff ${from} → ${to}`), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await api('GET', `${base}/diff?from=${seg(from)}&to=${seg(to)}`);
      if (!alive) return;
      state.diff = { from, to };
      renderDiff(r);
      diffEl.querySelector('h2')?.focus();
    } catch (e) {
      if (alive)
        replace(
          diffEl,
          h('h2', { id: 'diff-title', tabindex: '-1' }, `Diff ${from} → ${to}`),
          errorBlock(e),
          closeDiffButton(),
        );
    }
  }

  function closeDiffButton() {
    const b = h('button', { type: 'button', class: 'btn btn-small' }, 'Close diff');
    b.addEventListener('click', () => (location.hash = `#/apps/${seg(app)}`));
    return b;
  }

  function renderDiff({ diff, lines }) {
    const rows = [];
    const change = (what, from, to, note) =>
      rows.push(
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, what),
          h('td', {}, from),
          h('td', {}, to),
          h('td', { class: 'muted' }, note ?? ''),
        ),
      );
    // Short forms here (the full values are in the title and in the text below).
    const code = (text, short) => h('code', { title: text }, short);
    if (diff.build?.changed)
      change(
        'build',
        code(diff.build.from, shortDigest(diff.build.from)),
        code(diff.build.to, shortDigest(diff.build.to)),
      );
    if (diff.commit?.changed)
      change(
        'commit',
        code(diff.commit.from, shortCommit(diff.commit.from)),
        code(diff.commit.to, shortCommit(diff.commit.to)),
      );
    for (const k of diff.config?.added ?? []) change(`config ${k}`, '—', '(set)', 'added');
    for (const k of diff.config?.removed ?? []) change(`config ${k}`, '(set)', '—', 'removed');
    for (const c of diff.config?.changed ?? []) {
      if (c.secret) change(`config ${c.key}`, '(secret)', '(secret)', 'secret value changed (not shown)');
      else change(`config ${c.key}`, h('code', {}, c.from ?? ''), h('code', {}, c.to ?? ''), 'changed');
    }
    for (const f of diff.formation ?? [])
      change(`scale ${f.type}`, String(f.from ?? '—'), String(f.to ?? '—'), 'formation');
    replace(
      diffEl,
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'diff-title', tabindex: '-1' }, `Diff ${diff.from} → ${diff.to}`),
        closeDiffButton(),
      ),
      diff.changed
        ? h(
            'table',
            { class: 'diff-table' },
            h('caption', { class: 'sr-only' }, `What changed from ${diff.from} to ${diff.to}`),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['What', diff.from, diff.to, ''].map((t) => h('th', { scope: 'col' }, t)),
              ),
            ),
            h('tbody', {}, rows),
          )
        : h('p', {}, 'No differences.'),
      h('h3', {}, 'As ', h('code', {}, 'brr diff'), ' prints it'),
      h('pre', { class: 'diff-lines', tabindex: '0' }, (lines ?? []).join('\n')),
    );
  }

  function hideDiff() {
    state.diff = null;
    diffEl.hidden = true;
    replace(diffEl);
  }

  // ── processes ──
  async function loadProcesses() {
    try {
      const r = await api('GET', `${base}/processes`);
      if (!alive) return;
      const procs = r.processes ?? [];
      const strays = Array.isArray(r.strays) ? r.strays : [];
      replace(
        procEl,
        h(
          'p',
          { class: 'muted small' },
          `Supervisor ${r.supervisor}`,
          strays.length ? ` · ${strays.length} stray process(es)` : '',
        ),
        procs.length
          ? h(
              'table',
              { class: 'procs' },
              h('caption', { class: 'sr-only' }, `Processes of ${app}`),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Process', 'Release', 'PID', 'State', 'Restarts', 'Uptime', 'Health failures'].map((t) =>
                    h('th', { scope: 'col' }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                procs.map((p) =>
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'row' }, `${p.type}.${p.index}`),
                    h('td', {}, p.release),
                    h('td', {}, p.pid ?? '—'),
                    h('td', {}, h('span', { class: `badge badge-proc-${p.state}` }, p.state)),
                    h('td', {}, p.restarts),
                    h('td', {}, duration(p.uptimeMs)),
                    h(
                      'td',
                      {},
                      p.healthFailures ?? 0,
                      p.lastHealthFailure ? h('div', { class: 'muted small' }, p.lastHealthFailure.reason) : null,
                    ),
                  ),
                ),
              ),
            )
          : h('p', { class: 'empty' }, 'No processes running.'),
      );
    } catch (e) {
      if (alive) replace(procEl, errorBlock(e));
    }
  }

  // ── log tail ──
  let logSource = null;
  let logPaused = false;
  let pending = [];
  function startLogs() {
    logSource = new EventSource(`${base}/logs?follow=1&n=100`);
    logSource.addEventListener('open', () => replace(logState, 'following'));
    logSource.addEventListener('error', () =>
      replace(logState, logSource?.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…'),
    );
    logSource.addEventListener('log', (ev) => {
      let l;
      try {
        l = JSON.parse(ev.data);
      } catch {
        return;
      }
      pending.push(`${l.source} | ${l.line}`);
      if (pending.length > MAX_LOG_LINES) pending = pending.slice(-MAX_LOG_LINES);
      if (!logPaused) later('logs', flushLogs, 100);
    });
  }
  function flushLogs() {
    if (!pending.length) return;
    const atBottom = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
    const text = (logPre.textContent ? `${logPre.textContent}\n` : '') + pending.join('\n');
    pending = [];
    const lines = text.split('\n');
    logPre.textContent = lines.slice(-MAX_LOG_LINES).join('\n');
    if (atBottom) logPre.scrollTop = logPre.scrollHeight;
  }
  function toggleLogPause() {
    logPaused = !logPaused;
    logPause.setAttribute('aria-pressed', String(logPaused));
    replace(logPause, logPaused ? 'Resume' : 'Pause');
    if (!logPaused) flushLogs();
  }

  // ── live activity ──
  const off = onActivity((a) => {
    if (a.app !== app) return;
    activityList.prepend(h('li', {}, timeEl(a.at), ' ', describeActivity(a)));
    while (activityList.children.length > 30) activityList.lastElementChild?.remove();
    if (a.kind === 'release') later('releases', refreshReleases, 100);
    if (a.kind === 'release' || SWITCH_KINDS.has(a.kind) || a.kind === 'lease') later('summary', loadSummary);
    if (PROCESS_KINDS.has(a.kind)) later('procs', loadProcesses, 400);
  });

  function update(r) {
    if (r.diff) {
      if (!state.diff || state.diff.from !== r.diff.from || state.diff.to !== r.diff.to)
        showDiff(r.diff.from, r.diff.to);
    } else if (state.diff || !diffEl.hidden) hideDiff();
  }

  loadSummary();
  loadFirstPage();
  loadProcesses();
  startLogs();
  update(route);

  return {
    update,
    destroy() {
      alive = false;
      off();
      logSource?.close();
      for (const t of Object.values(timers)) clearTimeout(t);
    },
  };
}

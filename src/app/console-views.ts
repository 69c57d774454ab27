/**
 * The read side of the operator console (`brr serve`): an app's summary (target, current and
 * running release, drift, newest release), a page of its release history (with each release's
 * signer), its processes and its config, in the shapes the HTTP API answers with. Secret-free by
 * construction: releases leave through publicRelease (redacted) and config through configView
 * (secret keys, never values).
 */
import { notFound } from '../core/errors.js';
import { invalidInput } from '../core/errors.js';
import type { Context } from './context.js';
import { listAppTargets } from './app-target.js';
import { currentConfig } from './change-config.js';
import { listProcessesAndProblems, type ProcessInfo } from './processes.js';
import { publicRelease, type PublicRelease } from './releases.js';
import { readEventIndex } from './event-index.js';
import { releaseSigners, type ReleaseSigner } from './release-signers.js';
import { appStatus } from './status.js';

export interface AppSummary {
  app: string;
  target: 'local' | 'kubernetes';
  /** The ledger's current release (what should run). */
  current: string | null;
  /** What the supervisor (or the cluster) runs. */
  running: string | null;
  inSync: boolean;
  problem: string | null;
  latest: { id: string; cause: string; actor: string; createdAt: string } | null;
}

/** Every app of the ledger (or only `app`), with where it runs and whether that matches the ledger. */
export async function appSummaries(ctx: Context, app?: string): Promise<AppSummary[]> {
  const targets = await listAppTargets(ctx);
  const statuses = await appStatus(ctx, app);
  const out: AppSummary[] = [];
  for (const t of targets) {
    if (app !== undefined && t.app !== app) continue;
    const s = statuses.find((x) => x.app === t.app);
    const latest = await ctx.ledger.latestRelease(t.app);
    out.push({
      app: t.app,
      target: t.target.target,
      current: t.current,
      running: s?.running ?? null,
      inSync: s?.inSync ?? true,
      problem: s?.problem ?? null,
      latest: latest ? { id: latest.id, cause: latest.cause, actor: latest.actor, createdAt: latest.createdAt } : null,
    });
  }
  return out;
}

/**
 * `app_unknown` unless the ledger has the app. Asked on every request that names an app, so it
 * reads by the app's index (its newest release, else its events); only a miss lists every app
 * (a scan of the whole ledger) to name them in the hint.
 */
export async function assertAppKnown(ctx: Context, app: string): Promise<void> {
  if ((await ctx.ledger.latestRelease(app)) !== null) return;
  if ((await ctx.ledger.readEntries(app, 'event', 0, 1)).length > 0) return;
  const known = await ctx.ledger.listApps();
  if (!known.includes(app))
    throw notFound(
      'app_unknown',
      `no app ${JSON.stringify(app)} in the ledger`,
      known.length > 0 ? `apps in this ledger: ${known.join(', ')}` : 'this ledger holds no app yet',
    );
}

/** One app's summary; `app_unknown` when the ledger does not have it. */
export async function appSummary(ctx: Context, app: string): Promise<AppSummary> {
  await assertAppKnown(ctx, app);
  const [row] = await appSummaries(ctx, app);
  return row!;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

/**
 * A page of an app's releases, newest first: at most `limit` releases older than `before`
 * (a release id; none: from the newest). `next` is the `before` of the following page, or null
 * on the last one. Reads only the page (the ledger's seq index), however long the history.
 */
export async function pageAppReleases(
  ctx: Context,
  app: string,
  opts: { limit?: number; before?: string } = {},
): Promise<{ releases: (PublicRelease & ReleaseSigner)[]; current: string | null; next: string | null }> {
  const limit = opts.limit ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw invalidInput('limit_invalid', `limit must be a whole number from 1 to ${MAX_PAGE}`, 'e.g. limit=50');
  let beforeSeq: number | undefined;
  if (opts.before !== undefined) {
    const m = /^v([1-9][0-9]{0,14})$/.exec(opts.before);
    if (!m)
      throw invalidInput(
        'release_id_invalid',
        `${JSON.stringify(opts.before)} is not a release id`,
        'e.g. before=v120',
      );
    beforeSeq = Number(m[1]);
  }
  const page = await ctx.ledger.listReleases(app, { limit, beforeSeq });
  // Only an empty page asks whether the app exists.
  if (page.length === 0) await assertAppKnown(ctx, app);
  const index = await readEventIndex(ctx.ledger, app);
  const current = index.current;
  const signers = releaseSigners(index, page);
  const last = page[page.length - 1];
  return {
    releases: page.map((r) => ({ ...publicRelease(r, current), ...signers.get(r.id)! })),
    current,
    next: page.length === limit && last && last.seq > 1 ? last.id : null,
  };
}

/** `brr ps` for one app, with whether the supervisor runs at all and the strays it reports. */
export async function appProcesses(
  ctx: Context,
  app: string,
): Promise<{ supervisor: 'running' | 'stopped'; processes: ProcessInfo[]; strays: unknown[] }> {
  await assertAppKnown(ctx, app);
  const r = await listProcessesAndProblems(ctx.paths, app);
  if (!r) return { supervisor: 'stopped', processes: [], strays: [] };
  return { supervisor: 'running', processes: r.rows.filter((p) => p.app === app), strays: r.strays };
}

/**
 * The app's config as the console shows it: the values of plain keys and only the names of
 * secret ones (write-only: no value, not even sealed, ever leaves).
 */
export async function configView(
  ctx: Context,
  app: string,
): Promise<{ config: Record<string, string>; secretKeys: string[] }> {
  await assertAppKnown(ctx, app);
  const raw = await currentConfig(ctx, app);
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const key of Object.keys(raw).sort()) {
    const v = raw[key]!;
    if (v.secret) secretKeys.push(key);
    else config[key] = v.value;
  }
  return { config, secretKeys };
}

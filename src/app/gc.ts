import path from 'node:path';
import { invalidInput, isBrrError } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { Digest } from '../core/types.js';
import { currentReleaseId, lastDeployOutcome } from '../release/state.js';
import {
  DEFAULT_KEEP,
  planRetention,
  type AppHistory,
  type BuildReason,
  type RetainedRelease,
} from '../release/retention.js';
import { connectSupervisor } from '../run/local/client.js';
import type { ProcessInfo } from '../run/types.js';
import {
  collectImages,
  currentLinkTarget,
  imageBlobs,
  listBlobFiles,
  listEntries,
  listLayoutTemp,
  recordCollected,
  removePath,
} from '../store/collect.js';
import { isBrrEntry } from '../store/image-read.js';
import { ANNOTATIONS, OciLayout } from '../store/oci-layout.js';
import type { Context } from './context.js';
import { withLease } from './lease.js';
import { planCollection, type CollectionPlan, type StoreSnapshot } from './gc-plan.js';

/** Newest releases `brr gc` keeps per app by default (the retention rule's). */
export { DEFAULT_KEEP } from '../release/retention.js';

/**
 * `brr gc`: read the ledger and the store, plan with pure functions (retention, then
 * collection), then delete exactly what the plan names. The ledger is only read: every release
 * stays in history, and one whose build was collected says so and names the rebuild command.
 */

export interface GcOptions {
  /** Newest releases kept per app (default 5). */
  keep?: number;
  dryRun?: boolean;
  /** Only this app's release directories and builds. */
  app?: string;
  /** Age below which temp files and unindexed blobs are presumed in use (default 24 h). */
  graceMs?: number;
}

export interface GcReport {
  dryRun: boolean;
  keep: number;
  apps: Array<{ app: string; retained: RetainedRelease[]; removedDirs: string[] }>;
  builds: {
    retained: Array<{ digest: Digest; reasons: BuildReason[] }>;
    removed: Array<{ digest: Digest; app: string | null; commit: string; ref: string }>;
  };
  blobs: { removed: number };
  temp: string[];
  /** Apps with release directories the ledger does not know; left alone. */
  unknownApps: string[];
  /** Apps being deployed right now (lease held): their release directories were left alone. */
  busyApps: string[];
  bytesFreed: number;
}

export const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;

/** Releases the local supervisor runs processes of; none when it is not running. */
export async function runningReleases(paths: HomePaths): Promise<Array<{ app: string; release: string }>> {
  // A supervisor that cannot be asked (bad token) throws: collecting blind could remove a running tree.
  const client = await connectSupervisor(paths);
  if (!client) return [];
  try {
    const rows = await client.request<ProcessInfo[]>('ps', {});
    return rows.map((p) => ({ app: p.app, release: p.release }));
  } finally {
    client.close();
  }
}

async function snapshotStore(paths: HomePaths, layout: OciLayout, apps: readonly string[]): Promise<StoreSnapshot> {
  const entries: StoreSnapshot['entries'] = [];
  for (const d of await layout.listImages()) {
    const a = d.annotations ?? {};
    entries.push({
      ref: a[ANNOTATIONS.refName] ?? '',
      digest: d.digest,
      app: a[ANNOTATIONS.app] || null,
      brr: isBrrEntry(d),
      commit: a[ANNOTATIONS.revision] ?? '',
      path: a[ANNOTATIONS.path] ?? '',
      source: a[ANNOTATIONS.source] ?? '',
      createdAt: a[ANNOTATIONS.created] ?? '',
      blobs: await imageBlobs(layout, d.digest),
    });
  }
  const dirs: StoreSnapshot['dirs'] = [];
  const currentLinks: StoreSnapshot['currentLinks'] = {};
  const appDirs = (await listEntries(paths.releases)).map((e) => path.basename(e.path));
  for (const app of [...new Set([...appDirs, ...apps])].sort()) {
    currentLinks[app] = await currentLinkTarget(paths.releases, app);
    for (const e of await listEntries(path.join(paths.releases, app))) {
      const name = path.basename(e.path);
      if (name !== 'current') dirs.push({ app, name, path: e.path, bytes: e.bytes, mtimeMs: e.mtimeMs });
    }
  }
  const temp = [...(await listLayoutTemp(layout)), ...(await listEntries(paths.tmp))];
  return { entries, blobs: await listBlobFiles(layout), dirs, currentLinks, temp };
}

/** Plans (and unless `dryRun`, performs) the collection. */
export async function collectGarbage(ctx: Context, opts: GcOptions = {}): Promise<GcReport> {
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 1)
    throw invalidInput('gc_keep_invalid', `--keep must be a whole number ≥ 1, got ${String(keep)}`, 'e.g. --keep 5');
  const apps = await ctx.ledger.listApps();
  const histories: AppHistory[] = [];
  for (const app of apps)
    histories.push({ app, releases: await ctx.ledger.listReleases(app), events: await ctx.ledger.listEvents(app) });
  const running = await runningReleases(ctx.paths);
  const layout = new OciLayout(ctx.paths.oci);
  const snap = await snapshotStore(ctx.paths, layout, apps);
  const builds = snap.entries
    .filter((e) => e.brr)
    .map((e) => ({ digest: e.digest, app: e.app, createdAt: e.createdAt }));
  const retention = planRetention({ apps: histories, keep, running, builds });
  const plan = planCollection(retention, snap, {
    knownApps: new Set(apps),
    onlyApp: opts.app,
    nowMs: ctx.clock.now().getTime(),
    graceMs: opts.graceMs ?? DEFAULT_GRACE_MS,
  });
  const applied = opts.dryRun
    ? { bytes: plan.bytes, keptDirs: new Set<string>(), busyApps: [] }
    : await applyCollection(ctx, layout, plan, running);
  const shown = opts.app === undefined ? apps : apps.filter((a) => a === opts.app);
  const removedDirs = (app: string) =>
    plan.dirs.filter((d) => d.app === app && !applied.keptDirs.has(`${app}/${d.name}`)).map((d) => d.name);
  return {
    dryRun: Boolean(opts.dryRun),
    keep,
    apps: shown.map((app) => ({ app, retained: retention.releases[app] ?? [], removedDirs: removedDirs(app) })),
    builds: {
      retained: [...retention.digests]
        .map(([digest, reasons]) => ({ digest, reasons }))
        .sort((a, b) => a.digest.localeCompare(b.digest)),
      removed: plan.entries.map((e) => ({ digest: e.digest, app: e.app, commit: e.commit, ref: e.ref })),
    },
    blobs: { removed: plan.blobs.length },
    temp: plan.temp.map((t) => t.path),
    unknownApps: plan.unknownApps,
    busyApps: applied.busyApps,
    bytesFreed: applied.bytes,
  };
}

interface Applied {
  bytes: number;
  /** `app/vN` of planned dirs left in place (became current, in flight, or running meanwhile). */
  keptDirs: Set<string>;
  /** Apps whose dirs were left alone because a deploy holds their lease. */
  busyApps: string[];
}

/** Performs a collection plan. */
async function applyCollection(
  ctx: Context,
  layout: OciLayout,
  plan: CollectionPlan,
  running: ReadonlyArray<{ app: string; release: string }>,
): Promise<Applied> {
  const done: Applied = { bytes: 0, keptDirs: new Set(), busyApps: [] };
  for (const app of [...new Set(plan.dirs.map((d) => d.app))]) {
    try {
      // Under the app's deploy lease, so no `brr run vN` of a release being removed can start,
      // and with the app's state read again: the plan may be minutes old on a big store.
      await withLease(ctx, app, async () => {
        const events = await ctx.ledger.listEvents(app);
        const outcome = lastDeployOutcome(events);
        const protect = new Set([
          currentReleaseId(events),
          outcome?.outcome === 'in-progress' ? outcome.release : null,
          await currentLinkTarget(ctx.paths.releases, app),
        ]);
        for (const r of running) if (r.app === app) protect.add(r.release);
        for (const d of plan.dirs.filter((x) => x.app === app)) {
          if (protect.has(d.name)) {
            done.keptDirs.add(`${app}/${d.name}`);
            continue;
          }
          await removePath(d.path);
          done.bytes += d.bytes;
        }
      });
    } catch (e) {
      if (!isBrrError(e) || e.code !== 'lease_held') throw e;
      done.busyApps.push(app);
      for (const d of plan.dirs.filter((x) => x.app === app)) done.keptDirs.add(`${app}/${d.name}`);
    }
  }
  if (plan.entries.length > 0 || plan.blobs.length > 0) {
    const removed = await collectImages(layout, plan.entries, plan.blobs);
    done.bytes += removed.blobs.reduce((n, b) => n + b.size, 0);
    // Remember how to rebuild what is now gone (digests no remaining entry names).
    const left = new Set((await layout.listImages()).map((d) => d.digest));
    const at = ctx.clock.now().toISOString();
    const gone = plan.entries.filter(
      (e, i, all) => !left.has(e.digest) && all.findIndex((x) => x.digest === e.digest) === i,
    );
    await recordCollected(
      ctx.paths.root,
      gone.map((e) => ({
        digest: e.digest,
        commit: e.commit,
        path: e.path,
        source: e.source,
        app: e.app,
        collectedAt: at,
      })),
    );
  }
  for (const t of plan.temp) {
    await removePath(t.path);
    done.bytes += t.bytes;
  }
  return done;
}

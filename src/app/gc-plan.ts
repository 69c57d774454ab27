import type { Digest } from '../core/types.js';
import type { RetentionPlan } from '../release/retention.js';

/**
 * Pure: given what retention keeps and what the store holds, decide what `brr gc` deletes.
 * The apply step (src/app/gc.ts) performs exactly this list, so `--dry-run` shows the truth.
 */

/** One index entry of the store, with the blobs its image needs (manifest, config, layers). */
export interface SnapshotEntry {
  ref: string;
  digest: Digest;
  app: string | null;
  /** Written by brr (other tools' entries in a shared layout are never touched). */
  brr: boolean;
  commit: string;
  path: string;
  source: string;
  /** ISO time the build was stored. */
  createdAt: string;
  blobs: Digest[];
}

export interface SnapshotDir {
  app: string;
  name: string;
  /** Absolute path. */
  path: string;
  bytes: number;
  mtimeMs: number;
}

export interface StoreSnapshot {
  entries: SnapshotEntry[];
  blobs: Array<{ digest: Digest; size: number; mtimeMs: number }>;
  /** Everything under releases/<app>/ except the `current` link. */
  dirs: SnapshotDir[];
  /** Target of releases/<app>/current per app. */
  currentLinks: Record<string, string | null>;
  /** Scratch files outside releases/ (layout temp files, build work dirs). */
  temp: Array<{ path: string; bytes: number; mtimeMs: number }>;
}

export interface CollectionOptions {
  /** Apps the ledger knows: release dirs of other apps are left alone (maybe another ledger's). */
  knownApps: ReadonlySet<string>;
  /** Only this app's release dirs and builds (`brr gc --app`). */
  onlyApp?: string;
  nowMs: number;
  /** Temp files, and blobs no index entry names, younger than this may belong to a writer still at work. */
  graceMs: number;
}

export interface CollectionPlan {
  dirs: Array<{ app: string; name: string; path: string; bytes: number }>;
  entries: SnapshotEntry[];
  blobs: Array<{ digest: Digest; size: number }>;
  temp: Array<{ path: string; bytes: number }>;
  /** Apps with release dirs that the ledger does not know (left alone). */
  unknownApps: string[];
  bytes: number;
}

const RELEASE_DIR_RE = /^v[1-9][0-9]*$/;
const TEMP_DIR_RE = /^\.(tmp|current)-/;

export function planCollection(retention: RetentionPlan, snap: StoreSnapshot, opts: CollectionOptions): CollectionPlan {
  const inScope = (app: string | null) => opts.onlyApp === undefined || app === opts.onlyApp;
  const old = (mtimeMs: number) => opts.nowMs - mtimeMs > opts.graceMs;
  const unknown = new Set<string>();

  const dirs: CollectionPlan['dirs'] = [];
  const temp: CollectionPlan['temp'] = [];
  for (const d of snap.dirs) {
    if (!inScope(d.app)) continue;
    if (!opts.knownApps.has(d.app)) {
      unknown.add(d.app);
      continue;
    }
    if (TEMP_DIR_RE.test(d.name)) {
      // A materialization in progress lives in .tmp-<id>-*; only old ones are strays.
      if (old(d.mtimeMs)) temp.push({ path: d.path, bytes: d.bytes });
      continue;
    }
    if (!RELEASE_DIR_RE.test(d.name)) continue;
    const retained = (retention.releases[d.app] ?? []).some((r) => r.id === d.name);
    if (retained || snap.currentLinks[d.app] === d.name) continue;
    dirs.push({ app: d.app, name: d.name, path: d.path, bytes: d.bytes });
  }

  const entries = snap.entries.filter((e) => e.brr && inScope(e.app) && !retention.digests.has(e.digest));
  const removed = new Set(entries);
  const reachable = new Set<Digest>();
  for (const e of snap.entries) if (!removed.has(e)) for (const b of e.blobs) reachable.add(b);
  const freed = new Set<Digest>();
  for (const e of entries) for (const b of e.blobs) freed.add(b);
  // Blobs no entry names are debris of crashed builds, but a running build writes its blobs
  // before its index entry: only old ones go, and only in a full (not --app) collection.
  const blobs = snap.blobs
    .filter((b) => !reachable.has(b.digest) && (freed.has(b.digest) || (opts.onlyApp === undefined && old(b.mtimeMs))))
    .map((b) => ({ digest: b.digest, size: b.size }));

  if (opts.onlyApp === undefined)
    for (const t of snap.temp) if (old(t.mtimeMs)) temp.push({ path: t.path, bytes: t.bytes });

  const bytes = [...dirs, ...temp].reduce((n, d) => n + d.bytes, 0) + blobs.reduce((n, b) => n + b.size, 0);
  return { dirs, entries, blobs, temp, unknownApps: [...unknown].sort(), bytes };
}

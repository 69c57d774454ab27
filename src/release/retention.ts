import type { Digest, LedgerEvent, Release } from '../core/types.js';
import { currentReleaseId, lastDeployOutcome } from './state.js';

/**
 * Pure retention planning for `brr gc`: which releases of each app must stay runnable, and so
 * which build digests must stay in the store. Nothing here touches disk; the store side
 * (src/store/collect.ts) only deletes what this plan leaves out.
 *
 * Clean-up that deletes what a retained release needs is the bug Kamal, kustomize and Flux
 * users report most, so every rule below errs on keeping.
 */

/** Default number of newest releases kept per app (besides current and previous healthy). */
export const DEFAULT_KEEP = 5;

/** Why a release is retained. */
export type RetainReason =
  /** The ledger's current release (fold of activated / rolled-back / stopped). */
  | 'current'
  /** The last release that served before the current one: the rollback target that is known good. */
  | 'previous-healthy'
  /** Among the newest N releases of the app. */
  | 'recent'
  /** The supervisor reports processes of it (during a switch, old and new both run). */
  | 'running'
  /** A switch to it started and has no outcome yet. */
  | 'in-flight';

/** Why a build digest is retained. */
export type BuildReason =
  /** A retained release of some app (builds are global) references it. */
  | 'release'
  /**
   * Never released, but among the newest N builds of its app, or stored after that app's newest
   * release: `brr build` followed by `brr gc` must not lose the build about to be released.
   */
  | 'unreleased-recent';

export type ReleaseLike = Pick<Release, 'id' | 'seq' | 'build' | 'createdAt'>;
export type EventLike = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'>;

export interface AppHistory {
  app: string;
  /** Every release of the app (any order). */
  releases: readonly ReleaseLike[];
  /** Every event of the app, oldest first. */
  events: readonly EventLike[];
}

/** One brr index entry of the store (an image built for an app; one digest may have several). */
export interface BuildEntry {
  digest: Digest;
  app: string | null;
  /** ISO time the build was stored. */
  createdAt: string;
}

export interface RetentionInput {
  apps: readonly AppHistory[];
  /** Newest releases kept per app; at least 1. */
  keep: number;
  /** Releases the supervisor runs now (from `ps`); empty when it is not running. */
  running: ReadonlyArray<{ app: string; release: string }>;
  builds: readonly BuildEntry[];
}

export interface RetainedRelease {
  id: string;
  digest: Digest;
  reasons: RetainReason[];
}

export interface RetentionPlan {
  /** Per app, the retained releases, newest first. */
  releases: Record<string, RetainedRelease[]>;
  /** Retained build digests and why (a digest may be kept for several reasons). */
  digests: Map<Digest, BuildReason[]>;
}

/**
 * The last release that served before the current one: walk the serving events (activated, and
 * rolled-back which names the restored release) and take the newest one naming another release.
 * With no current release (stopped), the last release that served is the one to come back to.
 */
export function previousHealthyId(events: readonly EventLike[], currentId: string | null): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if ((e.type === 'activated' || e.type === 'rolled-back') && e.release && e.release !== currentId) return e.release;
  }
  return null;
}

/** The retained releases of one app, newest first. Releases the ledger does not hold are ignored. */
export function retainedReleases(history: AppHistory, keep: number, running: readonly string[]): RetainedRelease[] {
  const byId = new Map(history.releases.map((r) => [r.id, r]));
  const reasons = new Map<string, RetainReason[]>();
  const add = (id: string | null, reason: RetainReason) => {
    if (!id || !byId.has(id)) return;
    const list = reasons.get(id) ?? [];
    if (!list.includes(reason)) list.push(reason);
    reasons.set(id, list);
  };
  const current = currentReleaseId(history.events);
  add(current, 'current');
  add(previousHealthyId(history.events, current), 'previous-healthy');
  const outcome = lastDeployOutcome(history.events);
  if (outcome?.outcome === 'in-progress') add(outcome.release, 'in-flight');
  for (const id of running) add(id, 'running');
  const newest = [...history.releases].sort((a, b) => b.seq - a.seq);
  for (const r of newest.slice(0, Math.max(1, keep))) add(r.id, 'recent');
  return newest
    .filter((r) => reasons.has(r.id))
    .map((r) => ({ id: r.id, digest: r.build.digest, reasons: reasons.get(r.id)! }));
}

/** Decides, for every app, the retained releases and the build digests they need. */
export function planRetention(input: RetentionInput): RetentionPlan {
  const releases: Record<string, RetainedRelease[]> = {};
  const digests = new Map<Digest, BuildReason[]>();
  const keepDigest = (d: Digest, reason: BuildReason) => {
    const list = digests.get(d) ?? [];
    if (!list.includes(reason)) list.push(reason);
    digests.set(d, list);
  };
  const released = new Set<Digest>();
  const newestReleaseAt = new Map<string, string>();
  for (const h of input.apps) {
    const running = input.running.filter((r) => r.app === h.app).map((r) => r.release);
    releases[h.app] = retainedReleases(h, input.keep, running);
    for (const r of releases[h.app]!) keepDigest(r.digest, 'release');
    for (const r of h.releases) {
      released.add(r.build.digest);
      const at = newestReleaseAt.get(h.app);
      if (at === undefined || r.createdAt > at) newestReleaseAt.set(h.app, r.createdAt);
    }
  }
  // Builds never released by any app: keep the newest N per app, and any stored after the
  // app's newest release. A build that some release used is governed by that release alone.
  const unreleased = input.builds.filter((b) => !released.has(b.digest));
  const perApp = new Map<string, BuildEntry[]>();
  for (const b of unreleased) {
    const key = b.app ?? '';
    perApp.set(key, [...(perApp.get(key) ?? []), b]);
  }
  for (const [app, list] of perApp) {
    const sorted = [...list].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const distinct = [...new Set(sorted.map((b) => b.digest))];
    for (const d of distinct.slice(0, Math.max(1, input.keep))) keepDigest(d, 'unreleased-recent');
    const since = newestReleaseAt.get(app);
    if (since !== undefined) for (const b of sorted) if (b.createdAt > since) keepDigest(b.digest, 'unreleased-recent');
  }
  return { releases, digests };
}

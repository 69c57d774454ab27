/**
 * An app's state, read once per command: the current release, the last healthy one before it,
 * where it runs, its trust policy, and (asked per release) its signatures and whether its release
 * phase is done. Verbs read it once (readAppState) and pass it along, instead of every step
 * reading the ledger again. Each part is read by event type from the ledger's indexes, so a
 * deploy, a config change or a supervisor's resume costs the same with 100,000 releases behind
 * it; foldAppState gives the same answers from an event log already in memory (the pure folds of
 * release/ and app-target.ts, which define what the reads must equal).
 */
import type { LedgerEvent } from '../core/types.js';
import type { Ledger } from '../ledger/ledger.js';
import { previousHealthyId } from '../release/retention.js';
import { currentReleaseId, releasePhaseSucceeded } from '../release/state.js';
import { trustPolicy, type TrustedKey } from '../release/trust.js';
import { appTarget, currentTarget, type AppTarget } from './app-target.js';
import type { Context } from './context.js';
import { currentReleaseOf } from './current-release.js';

export interface AppState {
  app: string;
  /** The release that serves now, or null. */
  currentId: string | null;
  /** The last release that served before the current one: the known-good way back. */
  previousHealthyId: string | null;
  /** Where the app runs. */
  target: AppTarget;
  /** The keys the app trusts (none: every release may run). */
  trust: TrustedKey[];
  /** The 'signed' events of `release`, oldest first (what assertReleaseTrusted checks). */
  signedEvents(release: string): Promise<readonly LedgerEvent[]>;
  /** The last release that served other than `release` (a rollout's way back). */
  lastServedOtherThan(release: string | null): Promise<string | null>;
  /** Whether the release phase of `release` already succeeded. */
  releasePhaseDone(release: string): Promise<boolean>;
}

/** The event types that put a release in service (previousHealthyId's fold). */
const SERVED = ['activated', 'rolled-back'] as const;

/** Pure: the state after `events`. */
export function foldAppState(app: string, events: readonly LedgerEvent[]): AppState {
  const currentId = currentReleaseId(events);
  return {
    app,
    currentId,
    previousHealthyId: previousHealthyId(events, currentId),
    target: currentTarget(events),
    trust: trustPolicy(events),
    signedEvents: async (release) => events.filter((e) => e.type === 'signed' && e.release === release),
    lastServedOtherThan: async (release) => previousHealthyId(events, release),
    releasePhaseDone: async (release) => releasePhaseSucceeded(events, release),
  };
}

/** The newest release put in service other than `release` (any, for null), by index. */
async function lastServed(ledger: Ledger, app: string, release: string | null): Promise<string | null> {
  const e = await ledger.lastEventOf(app, SERVED, { notRelease: release });
  return e?.release ?? null;
}

/** Reads the app's state from the ledger's indexes (equal to folding its whole event log). */
export async function readAppState(ctx: Pick<Context, 'ledger'>, app: string): Promise<AppState> {
  const { ledger } = ctx;
  const [currentId, target, trustEvents] = await Promise.all([
    currentReleaseOf(ledger, app),
    appTarget(ctx, app),
    ledger.listEventsOf(app, ['trust-changed']),
  ]);
  return {
    app,
    currentId,
    previousHealthyId: await lastServed(ledger, app, currentId),
    target,
    trust: trustPolicy(trustEvents),
    signedEvents: (release) => ledger.listEventsOf(app, ['signed'], release),
    lastServedOtherThan: (release) => lastServed(ledger, app, release),
    releasePhaseDone: async (release) =>
      (await ledger.lastEventOf(app, ['release-phase-succeeded'], { release })) !== null,
  };
}

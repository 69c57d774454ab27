/**
 * An app's state, folded once per command from its event log: the current release, the last
 * healthy one before it, where it runs, its trust policy and which release phases are done.
 * Verbs read it once (readAppState) and pass it along, instead of every step reading the log
 * again; the folds themselves are the pure ones in release/ and app-target.ts.
 */
import type { LedgerEvent } from '../core/types.js';
import { previousHealthyId } from '../release/retention.js';
import { currentReleaseId, releasePhaseSucceeded } from '../release/state.js';
import { trustPolicy, type TrustedKey } from '../release/trust.js';
import { currentTarget, type AppTarget } from './app-target.js';
import type { Context } from './context.js';

export interface AppState {
  app: string;
  /** The whole event log, oldest first (signatures are checked against it). */
  events: readonly LedgerEvent[];
  /** The release that serves now, or null. */
  currentId: string | null;
  /** The last release that served before the current one: the known-good way back. */
  previousHealthyId: string | null;
  /** Where the app runs. */
  target: AppTarget;
  /** The keys the app trusts (none: every release may run). */
  trust: TrustedKey[];
  /** Whether the release phase of `release` already succeeded. */
  releasePhaseDone(release: string): boolean;
}

/** Pure: the state after `events`. */
export function foldAppState(app: string, events: readonly LedgerEvent[]): AppState {
  const currentId = currentReleaseId(events);
  return {
    app,
    events,
    currentId,
    previousHealthyId: previousHealthyId(events, currentId),
    target: currentTarget(events),
    trust: trustPolicy(events),
    releasePhaseDone: (release) => releasePhaseSucceeded(events, release),
  };
}

/** Reads the app's event log once and folds it. */
export async function readAppState(ctx: Pick<Context, 'ledger'>, app: string): Promise<AppState> {
  return foldAppState(app, await ctx.ledger.listEvents(app));
}

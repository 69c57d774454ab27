/**
 * The current release read from the ledger's (app, type, seq) index instead of folding the
 * whole event log: only 'activated', 'rolled-back' and 'stopped' change it, and each sets it
 * outright (currentAfter), so the newest of them decides. A status or summary of an app with
 * 100,000 releases and their run-stage events then reads three rows, not 200,000.
 */
import type { Ledger } from '../ledger/ledger.js';
import { currentAfter } from '../release/state.js';

/** The event types that decide the current release (see currentAfter). */
export const CURRENT_RELEASE_TYPES = ['activated', 'rolled-back', 'stopped'] as const;

/** What currentReleaseId(all of `app`'s events) gives, from the newest deciding event alone. */
export async function currentReleaseOf(ledger: Pick<Ledger, 'lastEventOf'>, app: string): Promise<string | null> {
  const last = await ledger.lastEventOf(app, CURRENT_RELEASE_TYPES);
  return last ? currentAfter(null, last) : null;
}

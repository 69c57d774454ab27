/**
 * What the console reads from an app's event log on every page of its history: the current
 * release, the trust changes and each release's 'signed' events. A long-lived server keeps them
 * per ledger and app and brings them up to date from the last event it read (`readEntries`), so a
 * page of a 100,000-release history reads the new events, not all 200,000 of them again (that
 * took 1.5 s a page). A ledger replaced underneath (the last event read is gone or differs) is
 * folded again from its start.
 */
import type { LedgerEvent } from '../core/types.js';
import type { Ledger } from '../ledger/ledger.js';
import { currentAfter } from '../release/state.js';
import { signedEventsByRelease } from '../release/trust.js';

export interface EventIndex {
  /** The ledger's current release (what should run). */
  current: string | null;
  /** 'trust-changed' events, oldest first (what trustPolicy folds). */
  trust: LedgerEvent[];
  /** 'signed' events by release id, oldest first (what releaseSignatures checks). */
  signed: Map<string, LedgerEvent[]>;
}

interface Folded extends EventIndex {
  seq: number;
  hash: string | null;
}

const PAGE = 1000;
const folds = new WeakMap<Pick<Ledger, 'readEntries'>, Map<string, Promise<Folded>>>();

const empty = (): Folded => ({ seq: 0, hash: null, current: null, trust: [], signed: new Map() });

/** `app`'s event index, up to date with the ledger now. Calls for one app run one after another. */
export function readEventIndex(ledger: Pick<Ledger, 'readEntries'>, app: string): Promise<EventIndex> {
  let apps = folds.get(ledger);
  if (!apps) folds.set(ledger, (apps = new Map()));
  // A failed read leaves no half-folded state behind: the next call starts over.
  const next = (apps.get(app) ?? Promise.resolve(empty())).catch(() => empty()).then((f) => advance(ledger, app, f));
  apps.set(app, next);
  return next;
}

async function advance(ledger: Pick<Ledger, 'readEntries'>, app: string, f: Folded): Promise<Folded> {
  if (f.seq > 0) {
    const [last] = await ledger.readEntries(app, 'event', f.seq - 1, 1);
    if (!last || last.seq !== f.seq || last.hash !== f.hash) f = empty();
  }
  for (;;) {
    const rows = await ledger.readEntries(app, 'event', f.seq, PAGE);
    const events = rows.map((row) => ({ ...(JSON.parse(row.body) as Omit<LedgerEvent, 'hash'>), hash: row.hash }));
    for (const e of events) {
      f.current = currentAfter(f.current, e);
      if (e.type === 'trust-changed') f.trust.push(e);
    }
    for (const [id, list] of signedEventsByRelease(events)) f.signed.set(id, [...(f.signed.get(id) ?? []), ...list]);
    const last = rows[rows.length - 1];
    if (last) [f.seq, f.hash] = [last.seq, last.hash];
    if (rows.length < PAGE) return f;
  }
}

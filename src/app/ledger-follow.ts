/**
 * Reading an app's history from a position onwards, a page at a time, through the ledger's
 * `readEntries` (seq > after, ordered): the webhook dispatcher and the metrics both follow the
 * ledger this way, so a scrape or a poll costs what is new, not the whole history.
 */
import type { EventBody, ReleaseBody } from '../core/types.js';
import type { Ledger } from '../ledger/ledger.js';

/** The last seq read (or existing) of an app's two chains. */
export interface ChainPositions {
  release: number;
  event: number;
}

export type ChainEntry = { kind: 'release'; body: ReleaseBody } | { kind: 'event'; body: EventBody };

const PAGE = 500;

/** Entries of `app`'s `kind` chain with seq > after, oldest first, at most `limit`. */
export async function readChainAfter(
  ledger: Pick<Ledger, 'readEntries'>,
  app: string,
  kind: 'release' | 'event',
  after: number,
  limit = PAGE,
): Promise<ChainEntry[]> {
  const rows = await ledger.readEntries(app, kind, after, limit);
  return rows.map((r) =>
    kind === 'release'
      ? { kind: 'release', body: JSON.parse(r.body) as ReleaseBody }
      : { kind: 'event', body: JSON.parse(r.body) as EventBody },
  );
}

/** The newest seq of each chain of `app` (0 when empty). `from`: a position known to exist, to page from. */
export async function chainHeads(
  ledger: Pick<Ledger, 'readEntries' | 'latestRelease'>,
  app: string,
  from?: ChainPositions,
): Promise<ChainPositions> {
  const release = (await ledger.latestRelease(app))?.seq ?? 0;
  let event = from?.event ?? 0;
  for (;;) {
    const rows = await ledger.readEntries(app, 'event', event, PAGE);
    if (rows.length === 0) break;
    event = rows[rows.length - 1]!.seq;
    if (rows.length < PAGE) break;
  }
  return { release, event };
}

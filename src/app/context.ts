import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { homePaths, resolveHome, type HomePaths } from '../core/home.js';
import type { Ledger } from '../ledger/ledger.js';
import { describeLedger, openLedgerNow, resolveLedgerUrl } from '../ledger/open.js';
import { WITNESS_FILE } from '../ledger/witness.js';
import { WitnessedLedger } from '../ledger/witnessed-ledger.js';
import { defaultActor } from '../release/actor.js';

/** What every use-case gets: where things live, the ledger, the clock and who acts. */
export interface Context {
  paths: HomePaths;
  ledger: Ledger;
  clock: Clock;
  actor: string;
  close(): Promise<void>;
}

export interface ContextOptions {
  home?: string;
  /** A postgres:// URL for a team's shared ledger; default $BRR_LEDGER_URL, else the SQLite file in the home. */
  ledger?: string;
  clock?: Clock;
  actor?: string;
  /**
   * Apps whose history may start over although this home witnessed an older one (the ledger
   * was emptied or replaced on purpose). Default: $BRR_NEW_HISTORY, comma-separated app names.
   */
  newHistory?: readonly string[];
}

function newHistoryFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BRR_NEW_HISTORY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Opens the brr home (creating it, private to the user) and its ledger. Synchronous so every
 * caller (and test) can use it as before; `await openContext(…)` works too. A PostgreSQL ledger
 * connects in the background, and its first call reports a failed connection (see openLedgerNow).
 */
export function openContext(opts: ContextOptions = {}): Context {
  const paths = homePaths(resolveHome(opts.home));
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const spec = { sqliteFile: paths.ledger, url: resolveLedgerUrl(opts.ledger) };
  // Every write and verify answers to the witness kept in the home, outside the database.
  const ledger = new WitnessedLedger(openLedgerNow(spec), {
    file: path.join(paths.root, WITNESS_FILE),
    ledgerKey: spec.url === undefined ? 'embedded' : describeLedger(spec),
    where: describeLedger(spec),
    releasesDir: spec.url === undefined ? paths.releases : undefined,
    newHistory: new Set(opts.newHistory ?? newHistoryFromEnv()),
  });
  return {
    paths,
    ledger,
    clock: opts.clock ?? systemClock,
    actor: opts.actor ?? defaultActor(),
    close: () => ledger.close(),
  };
}

/** Where the context's ledger lives, safe to print (a PostgreSQL password is redacted). */
export function ledgerLocation(opts: Pick<ContextOptions, 'home' | 'ledger'> = {}): string {
  return describeLedger({ sqliteFile: homePaths(resolveHome(opts.home)).ledger, url: resolveLedgerUrl(opts.ledger) });
}

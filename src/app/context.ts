import { mkdirSync } from 'node:fs';
import { systemClock, type Clock } from '../core/clock.js';
import { homePaths, resolveHome, type HomePaths } from '../core/home.js';
import type { Ledger } from '../release/ledger.js';
import { openSqliteLedger } from '../release/sqlite-ledger.js';
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
  clock?: Clock;
  actor?: string;
}

/** Opens the brr home (creating it, private to the user) and its ledger. */
export function openContext(opts: ContextOptions = {}): Context {
  const paths = homePaths(resolveHome(opts.home));
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const ledger = openSqliteLedger(paths.ledger);
  return {
    paths,
    ledger,
    clock: opts.clock ?? systemClock,
    actor: opts.actor ?? defaultActor(),
    close: () => ledger.close(),
  };
}

/**
 * The Context every verb gets: where things live, the ledger, the clock, who acts, and the
 * Settings resolved once at the edge. Verbs read settings from here, never from process.env.
 */
import path from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { ensureHome, homePaths, type HomePaths } from '../core/home.js';
import type { Ledger } from '../ledger/ledger.js';
import { describeLedger, openLedgerNow } from '../ledger/open.js';
import { WITNESS_FILE } from '../ledger/witness.js';
import { WitnessedLedger } from '../ledger/witnessed-ledger.js';
import { resolveSettings, type Settings } from './settings.js';

/** What every use-case gets: where things live, the ledger, the clock, who acts and the settings. */
export interface Context {
  paths: HomePaths;
  ledger: Ledger;
  clock: Clock;
  actor: string;
  settings: Settings;
  close(): Promise<void>;
}

export interface ContextOptions {
  /** Settings resolved by the caller (the CLI: flags > environment > defaults); default resolveSettings(). */
  settings?: Settings;
  /** Overrides settings.home. */
  home?: string;
  /** A postgres:// URL for a team's shared ledger; overrides settings.ledgerUrl. */
  ledger?: string;
  clock?: Clock;
  /** Overrides settings.actor. */
  actor?: string;
  /**
   * Apps whose history may start over although this home witnessed an older one (the ledger
   * was emptied or replaced on purpose). Default: settings.newHistory (BRR_NEW_HISTORY).
   */
  newHistory?: readonly string[];
}

/** The settings a context opens with: the given ones (or resolved now), with the direct overrides applied. */
function settingsFor(opts: ContextOptions): Settings {
  const base = opts.settings ?? resolveSettings({ home: opts.home, ledger: opts.ledger, actor: opts.actor });
  return {
    ...base,
    ...(opts.settings && opts.home !== undefined ? { home: resolveSettings({ home: opts.home }, {}).home } : {}),
    ...(opts.settings && opts.ledger !== undefined ? { ledgerUrl: opts.ledger.trim() || undefined } : {}),
    ...(opts.actor !== undefined ? { actor: opts.actor } : {}),
  };
}

/**
 * Opens the brr home (creating it, private to the user) and its ledger. Synchronous so every
 * caller (and test) can use it as before; `await openContext(…)` works too. A PostgreSQL ledger
 * connects in the background, and its first call reports a failed connection (see openLedgerNow).
 */
export function openContext(opts: ContextOptions = {}): Context {
  const settings = settingsFor(opts);
  const paths = homePaths(settings.home);
  ensureHome(paths.root);
  const spec = { sqliteFile: paths.ledger, url: settings.ledgerUrl };
  // Every write and verify answers to the witness kept in the home, outside the database.
  const ledger = new WitnessedLedger(openLedgerNow(spec), {
    file: path.join(paths.root, WITNESS_FILE),
    ledgerKey: spec.url === undefined ? 'embedded' : describeLedger(spec),
    where: describeLedger(spec),
    releasesDir: spec.url === undefined ? paths.releases : undefined,
    newHistory: new Set(opts.newHistory ?? settings.newHistory),
  });
  return {
    paths,
    ledger,
    clock: opts.clock ?? systemClock,
    actor: settings.actor,
    settings,
    close: () => ledger.close(),
  };
}

/** Where the settings' ledger lives, safe to print (a PostgreSQL password is redacted). */
export function ledgerLocation(settings: Pick<Settings, 'home' | 'ledgerUrl'>): string {
  return describeLedger({ sqliteFile: homePaths(settings.home).ledger, url: settings.ledgerUrl });
}

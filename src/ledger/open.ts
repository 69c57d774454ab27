import { invalidInput } from '../core/errors.js';
import type { Ledger } from './ledger.js';
import { redactUrl } from './redact-url.js';
import { openSqliteLedger } from './sqlite/ledger.js';

/**
 * Which ledger a command uses: the SQLite file in the brr home (the embedded default), or a
 * team's PostgreSQL ledger named by `--ledger postgres://…` or BRR_LEDGER_URL. The PostgreSQL
 * driver (and `pg`) is imported only when a URL names it: SQLite commands never load it.
 */

async function openPostgresLedger(url: string): Promise<Ledger> {
  const { openPostgresLedger: open } = await import('./postgres/ledger.js');
  return open(url);
}
export interface LedgerSpec {
  /** The embedded ledger file, used when no URL is given. */
  sqliteFile: string;
  /** A postgres:// URL; may carry a password, so it is only ever shown through `describeLedger`. */
  url?: string;
}

export { resolveLedgerUrl } from './ledger-url.js';

/** Where the ledger lives, safe to print (the password redacted). */
export function describeLedger(spec: LedgerSpec): string {
  return spec.url === undefined ? spec.sqliteFile : redactUrl(spec.url);
}

function checkUrl(url: string): void {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw invalidInput(
      'ledger_url_invalid',
      `--ledger / BRR_LEDGER_URL must be a postgres:// URL, got ${redactUrl(url)}`,
      'use postgres://USER:PASSWORD@HOST:PORT/DATABASE, or leave it unset for the ledger in the brr home',
    );
  }
}

/** Opens the ledger the spec names: connected, authenticated and migrated when it resolves. */
export async function openLedger(spec: LedgerSpec): Promise<Ledger> {
  if (spec.url === undefined) return openSqliteLedger(spec.sqliteFile);
  checkUrl(spec.url);
  return openPostgresLedger(spec.url);
}

/**
 * The same, without waiting: SQLite opens at once (its errors throw here, as always), a
 * PostgreSQL ledger connects in the background and every call waits for it, so a caller that
 * cannot await at open time (openContext) still gets a Ledger. A failed connection is reported
 * by the first call; close() after a failed connection is a no-op.
 */
export function openLedgerNow(spec: LedgerSpec): Ledger {
  if (spec.url === undefined) return openSqliteLedger(spec.sqliteFile);
  checkUrl(spec.url);
  const opening = openPostgresLedger(spec.url);
  // Marked handled: if nobody ever calls the ledger, a failed connection must not crash the process.
  opening.catch(() => undefined);
  // A Proxy, so every Ledger method (also ones added later) waits for the connection. Only
  // functions are forwarded; `then` stays undefined so `await ledger` does not mistake it for a promise.
  return new Proxy({} as Ledger, {
    get(_target, prop) {
      if (typeof prop === 'symbol' || prop === 'then') return undefined;
      if (prop === 'close')
        return () =>
          opening.then(
            (l) => l.close(),
            () => undefined,
          );
      return (...args: unknown[]) =>
        opening.then((l) => (l[prop as keyof Ledger] as (...a: unknown[]) => Promise<unknown>).apply(l, args));
    },
  });
}

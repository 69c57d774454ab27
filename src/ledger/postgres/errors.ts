import pg from 'pg';
import { BrrError, conflict, invalidInput } from '../../core/errors.js';

/**
 * PostgreSQL's errors as brr's, by SQLSTATE (and Node's errno codes for the socket), never by
 * message text. And the one rule about the ledger URL: it may carry a password, so every text
 * that leaves this driver names the server through `redactUrl` and is passed through `scrub`.
 */

/** The SQLSTATE our append-only triggers raise (a custom code, so nothing else can be mistaken for it). */
export const APPEND_ONLY_SQLSTATE = 'BRR01';

export { redactUrl } from '../redact-url.js';

/** The secrets of a URL (password, raw and decoded), to scrub from foreign messages. */
export function urlSecrets(url: string): string[] {
  const found: string[] = [];
  try {
    const u = new URL(url);
    if (u.password) found.push(u.password, decodeURIComponent(u.password));
    for (const [k, v] of u.searchParams) if (/pass|secret|key/i.test(k) && v) found.push(v);
  } catch {
    // An unparseable URL is never echoed (see redactUrl), so there is nothing to scrub by value.
  }
  return [...new Set(found)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Translates an error thrown by `pg` for the ledger at `where` (a redacted URL). Anything that is
 * neither a server error nor a socket error (a draft's own BrrError, say) passes through untouched.
 */
export function translatePgError(e: unknown, where: string, secrets: readonly string[]): unknown {
  if (e instanceof BrrError) return e;
  if (e instanceof pg.DatabaseError) {
    const code = e.code ?? '';
    const msg = scrub(e.message, secrets);
    if (code === '23505')
      return conflict(
        'ledger_conflict',
        `another writer appended to the ledger at the same position (${where})`,
        'run the command again; it will plan against the new latest release',
      );
    if (code === APPEND_ONLY_SQLSTATE) {
      return new BrrError('ledger_append_only', 'the ledger is append-only: entries cannot be changed or removed', {
        hint: 'record a new release or event instead (e.g. `brr rollback`)',
      });
    }
    if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') {
      return conflict(
        'ledger_busy',
        `the ledger ${where} stayed locked by another writer (SQLSTATE ${code})`,
        'another brr command is writing; retry in a moment',
      );
    }
    if (code === '28P01' || code === '28000') {
      return new BrrError(
        'ledger_auth_failed',
        `the PostgreSQL server refused the ledger's credentials (${where}, SQLSTATE ${code})`,
        { hint: 'check the user and password in --ledger / BRR_LEDGER_URL' },
      );
    }
    if (code === '3D000')
      return new BrrError('ledger_database_missing', `the ledger database does not exist (${where})`, {
        hint: 'create it first (createdb), or fix the database name in the URL',
      });
    if (code === '42501')
      return new BrrError('ledger_unwritable', `the ledger user lacks a privilege on ${where}: ${msg}`, {
        hint: 'grant the brr user CREATE on the database (first run) and INSERT/SELECT on its tables',
      });
    if (code === '53100')
      return new BrrError('disk_full', `the PostgreSQL server is out of disk space (${where})`, {
        hint: 'free disk space on the database server and retry',
      });
    if (code === '22021' || code === '22P05')
      return invalidInput(
        'ledger_text_invalid',
        'text with a NUL character cannot be stored in the PostgreSQL ledger',
        'remove control characters from app names and ledger fields',
      );
    if (code.startsWith('08') || code.startsWith('57P')) return unreachable(where, code);
    return new BrrError('ledger_error', `ledger ${where}: ${msg} (SQLSTATE ${code})`, {
      hint: 'retry; if it persists, run `brr verify`',
    });
  }
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno === 'string' && UNREACHABLE.has(errno)) return unreachable(where, errno);
  return e;
}

function unreachable(where: string, code: string): BrrError {
  return new BrrError('ledger_unreachable', `cannot reach the PostgreSQL ledger ${where} (${code})`, {
    hint: 'check that the server runs and the host and port in --ledger / BRR_LEDGER_URL are right',
  });
}

/**
 * pg reports some client-side failures (connection timeout, connection ended) as plain Errors
 * without a code. Those only come from our own calls into pg, so the driver wraps them here,
 * scrubbed, instead of letting a foreign message through.
 */
export function clientFailure(e: unknown, where: string, secrets: readonly string[]): unknown {
  const t = translatePgError(e, where, secrets);
  if (t !== e || e instanceof BrrError) return t;
  const text = scrub(e instanceof Error ? e.message : String(e), secrets);
  return new BrrError('ledger_unreachable', `the PostgreSQL ledger ${where} failed: ${text}`, {
    hint: 'check that the server runs and is reachable; then retry',
  });
}

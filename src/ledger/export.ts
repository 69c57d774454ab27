import { canonicalJson } from '../core/canonical-json.js';
import { BrrError, invalidInput } from '../core/errors.js';
import type { Ledger, StoredEntry, VerifyProblem } from './ledger.js';
import { checkEventType } from './seal.js';
import { ChainVerifier } from './verify-chain.js';

/**
 * Moving an app's history between ledgers (SQLite → PostgreSQL, one server to another) as JSON
 * Lines. Each entry line carries the stored body TEXT and its hash, not re-encoded fields, so
 * the target stores the very bytes that were hashed and every hash stays what it was. Import
 * checks everything (canonical bodies, hashes, links from seq 1, counts) before writing a row.
 *
 * Format, one JSON object per line:
 *   {"kind":"header","format":"brr-ledger-export","version":1}
 *   {"kind":"release"|"event","app":…,"seq":…,"hash":…,"body":"<canonical JSON text>"}   (per app: releases, then events, by seq)
 *   {"kind":"end","app":…,"releases":N,"events":M}    (closes each app: a cut-off file is refused)
 */

export const EXPORT_FORMAT = 'brr-ledger-export';
export const EXPORT_VERSION = 1;
const PAGE = 1_000;

export interface ExportedApp {
  app: string;
  releases: number;
  events: number;
  /** Chain problems seen while exporting: such a file will not import. */
  problems: VerifyProblem[];
}

/** The lines (without newline) of an export of `apps`; `done` receives per-app counts at the end. */
export async function* exportLedgerLines(
  ledger: Ledger,
  apps: readonly string[],
  done?: (summary: ExportedApp[]) => void,
): AsyncGenerator<string> {
  const summary: ExportedApp[] = [];
  yield JSON.stringify({ kind: 'header', format: EXPORT_FORMAT, version: EXPORT_VERSION });
  for (const app of apps) {
    const verifiers = { release: new ChainVerifier('release'), event: new ChainVerifier('event') };
    for (const kind of ['release', 'event'] as const) {
      for (let after = 0; ;) {
        const rows = await ledger.readEntries(app, kind, after, PAGE);
        for (const r of rows) {
          verifiers[kind].add(r);
          yield JSON.stringify({ kind, app: r.app, seq: r.seq, hash: r.hash, body: r.body });
          after = r.seq;
        }
        if (rows.length < PAGE) break;
      }
    }
    const [releases, events] = [verifiers.release.count, verifiers.event.count];
    summary.push({ app, releases, events, problems: [...verifiers.release.problems, ...verifiers.event.problems] });
    yield JSON.stringify({ kind: 'end', app, releases, events });
  }
  done?.(summary);
}

export interface ImportedApp {
  app: string;
  releases: number;
  events: number;
}

const refuse = (line: number, what: string, details?: Record<string, unknown>): BrrError =>
  invalidInput(
    'ledger_import_invalid',
    `line ${line}: ${what}; nothing was imported`,
    'the export was changed, damaged or cut off; export it again from the source ledger',
    { line, ...details },
  );

/** One entry line, checked on its own: shape, canonical body, columns taken from the body. */
function parseEntry(o: Record<string, unknown>, n: number): StoredEntry {
  const { kind, app, seq, hash, body } = o;
  if (
    typeof app !== 'string' ||
    app === '' ||
    !Number.isSafeInteger(seq) ||
    typeof hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(hash) ||
    typeof body !== 'string'
  ) {
    throw refuse(n, `a ${String(kind)} line needs app, seq, hash (64 hex) and body (text)`);
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw refuse(n, `${app} ${String(kind)} #${String(seq)}: body is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || canonicalJson(parsed) !== body)
    throw refuse(n, `${app} ${String(kind)} #${String(seq)}: body is not canonical JSON`);
  const prevHash = typeof parsed.prevHash === 'string' ? parsed.prevHash : null;
  const base = { app, seq: seq as number, hash, body, prevHash };
  if (kind === 'release') return { ...base, kind, id: String(parsed.id) };
  try {
    checkEventType(String(parsed.type));
  } catch (e) {
    throw refuse(n, `${app} event #${String(seq)}: ${(e as Error).message} (exported by a newer brr?)`);
  }
  return {
    ...base,
    kind: 'event',
    type: String(parsed.type),
    release: typeof parsed.release === 'string' ? parsed.release : null,
  };
}

/**
 * Reads and verifies a whole export; only `app`'s entries when given. Throws 'ledger_import_invalid'
 * naming the line of the first bad entry; returns the entries ready for Ledger.importEntries.
 */
export async function readExport(
  lines: AsyncIterable<string>,
  opts: { app?: string } = {},
): Promise<{ entries: StoredEntry[]; apps: ImportedApp[] }> {
  const entries: StoredEntry[] = [];
  const lineOf = new Map<string, number>();
  const ends = new Map<string, { releases: number; events: number }>();
  let n = 0;
  let header = false;
  for await (const text of lines) {
    n += 1;
    if (text.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw refuse(n, 'not a JSON line');
    }
    if (!header) {
      if (o?.kind !== 'header' || o.format !== EXPORT_FORMAT)
        throw refuse(n, `not a brr ledger export (expected a ${EXPORT_FORMAT} header)`);
      if (o.version !== EXPORT_VERSION)
        throw refuse(
          n,
          `export format version ${String(o.version)} is not supported (this brr reads version ${EXPORT_VERSION})`,
        );
      header = true;
      continue;
    }
    if (opts.app !== undefined && o?.app !== opts.app) continue;
    if (o?.kind === 'end') {
      if (typeof o.app !== 'string' || !Number.isSafeInteger(o.releases) || !Number.isSafeInteger(o.events))
        throw refuse(n, 'malformed end line');
      ends.set(o.app, { releases: o.releases as number, events: o.events as number });
    } else if (o?.kind === 'release' || o?.kind === 'event') {
      const e = parseEntry(o, n);
      if (ends.has(e.app)) throw refuse(n, `${e.app} ${e.kind} #${e.seq} after the end of ${e.app}`);
      const key = `${e.kind}\u0000${e.app}\u0000${e.seq}`;
      if (lineOf.has(key))
        throw refuse(n, `${e.app} ${e.kind} #${e.seq} appears twice (first on line ${lineOf.get(key)})`);
      lineOf.set(key, n);
      entries.push(e);
    } else {
      throw refuse(n, `unknown line kind ${JSON.stringify(o?.kind)}`);
    }
  }
  if (!header) throw refuse(n, 'empty file: not a brr ledger export');
  const apps = new Map<string, ImportedApp>();
  for (const e of entries) {
    const a = apps.get(e.app) ?? { app: e.app, releases: 0, events: 0 };
    a[e.kind === 'release' ? 'releases' : 'events'] += 1;
    apps.set(e.app, a);
  }
  for (const [app, end] of ends)
    if (!apps.has(app) && (end.releases > 0 || end.events > 0)) apps.set(app, { app, releases: 0, events: 0 });
  if (opts.app !== undefined && !apps.has(opts.app))
    throw invalidInput(
      'ledger_import_app_missing',
      `the export holds no entries of ${opts.app}`,
      'check --app, or omit it to import every app in the file',
    );
  for (const a of apps.values()) {
    const end = ends.get(a.app);
    if (!end) throw refuse(n, `the export of ${a.app} has no end line: the file was cut off`);
    if (end.releases !== a.releases || end.events !== a.events) {
      throw refuse(
        n,
        `${a.app}: the end line promises ${end.releases} releases and ${end.events} events, the file holds ${a.releases} and ${a.events}`,
      );
    }
  }
  verifyEntries(entries, lineOf);
  return { entries, apps: [...apps.values()] };
}

/** Hashes and links from seq 1, per app and chain; the first bad entry in file order is reported. */
function verifyEntries(entries: StoredEntry[], lineOf: Map<string, number>): void {
  const problems: Array<VerifyProblem & { line: number }> = [];
  for (const kind of ['release', 'event'] as const) {
    const verifier = new ChainVerifier(kind);
    const chain = entries
      .filter((e) => e.kind === kind)
      .sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : a.seq - b.seq));
    for (const e of chain) verifier.add(e);
    for (const p of verifier.problems)
      problems.push({ ...p, line: lineOf.get(`${p.kind}\u0000${p.app}\u0000${p.seq}`) ?? 0 });
  }
  problems.sort((a, b) => a.line - b.line);
  const first = problems[0];
  if (first) throw refuse(first.line, `${first.app} ${first.kind} #${first.seq}: ${first.problem}`, { problems });
}

/** Verifies the export, then writes it in one transaction into apps that have no history yet. */
export async function importLedger(
  ledger: Ledger,
  lines: AsyncIterable<string>,
  opts: { app?: string } = {},
): Promise<ImportedApp[]> {
  const { entries, apps } = await readExport(lines, opts);
  await ledger.importEntries(entries);
  return apps;
}

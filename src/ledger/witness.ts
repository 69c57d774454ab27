import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import type { StoredEntry, VerifyProblem } from './ledger.js';

/**
 * The integrity witness: the head (seq + hash) of every chain this home has written or seen
 * verified, kept in `<home>/ledger-witness.json`, OUTSIDE the ledger database. The hash chain
 * alone proves that what is there is consistent, not that nothing is missing: an emptied,
 * truncated or tail-deleted ledger is a shorter chain that still links. The witness is the other
 * half: the ledger must still hold, at each witnessed seq, exactly the witnessed hash.
 *
 * Heads only move forward (a lost race between two writers leaves a lower head, never a false
 * alarm). One file per home holds one section per ledger (the embedded file, or a PostgreSQL
 * URL without its password), since a home may be used with a team ledger too.
 *
 * This module is the file and the pure comparisons; WitnessedLedger does the bookkeeping.
 */

export const WITNESS_FILE = 'ledger-witness.json';

export interface ChainHead {
  seq: number;
  hash: string;
}

/** The heads of one app's two chains, as witnessed. */
export interface AppHeads {
  release?: ChainHead;
  event?: ChainHead;
}

interface WitnessFile {
  version: 1;
  /** ledger key → app → heads */
  ledgers: Record<string, Record<string, AppHeads>>;
}

function empty(): WitnessFile {
  return { version: 1, ledgers: {} };
}

function isHead(h: unknown): h is ChainHead {
  const o = h as ChainHead | undefined;
  return typeof o?.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq >= 1 && typeof o.hash === 'string';
}

/** Reads the witness; a missing file is an empty witness, a damaged one is an error (never silently empty). */
export function readWitness(file: string): WitnessFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty();
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as WitnessFile;
    if (parsed?.version !== 1 || typeof parsed.ledgers !== 'object' || parsed.ledgers === null)
      throw new Error('shape');
    return parsed;
  } catch {
    throw new BrrError('witness_damaged', `the ledger witness ${file} is damaged`, {
      hint: `restore it from the backup you restore ledger.db from; or, to trust the ledger as it is now, move ${file} aside and run \`brr verify\` (it records a new witness)`,
    });
  }
}

/** The witnessed heads of one ledger (app → heads). */
export function witnessedApps(file: string, ledgerKey: string): Record<string, AppHeads> {
  return readWitness(file).ledgers[ledgerKey] ?? {};
}

/** Pure: `next` merged over `prev`; a head only moves forward unless `replace` (a new history on purpose). */
export function mergeHeads(prev: AppHeads | undefined, next: AppHeads, replace = false): AppHeads {
  const out: AppHeads = replace ? {} : { ...prev };
  for (const kind of ['release', 'event'] as const) {
    const n = next[kind];
    if (n && isHead(n) && (replace || !out[kind] || n.seq >= out[kind].seq)) out[kind] = { seq: n.seq, hash: n.hash };
  }
  return out;
}

/**
 * Records heads for apps of one ledger: read, merge, write a temp file, rename (never a
 * half-written witness). Owner-only like the ledger. `replace` lists apps whose old heads are
 * dropped (a new history started on purpose).
 */
export function recordHeads(
  file: string,
  ledgerKey: string,
  heads: Record<string, AppHeads>,
  replace: ReadonlySet<string> = new Set(),
): void {
  const w = readWitness(file);
  const section = { ...(w.ledgers[ledgerKey] ?? {}) };
  let changed = false;
  for (const [app, h] of Object.entries(heads)) {
    const merged = mergeHeads(section[app], h, replace.has(app));
    if (JSON.stringify(merged) !== JSON.stringify(section[app])) changed = true;
    section[app] = merged;
  }
  if (!changed) return;
  w.ledgers[ledgerKey] = section;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(w, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Pure: what is wrong with a chain given its witnessed head and the ledger's entry at that seq
 * (`atHead`, null when absent) and its last seq (0 when the chain is empty). Null when it holds.
 */
export function headProblem(
  app: string,
  kind: StoredEntry['kind'],
  head: ChainHead,
  atHead: { hash: string } | null,
  lastSeq: number,
): VerifyProblem | null {
  const short = head.hash.slice(0, 12);
  if (atHead === null)
    return {
      app,
      kind,
      seq: head.seq,
      problem:
        lastSeq === 0
          ? `missing: this home witnessed ${kind} #${head.seq} (${short}…), the ledger holds no ${kind}s of ${app} (emptied or replaced)`
          : `missing: this home witnessed ${kind} #${head.seq} (${short}…), the ledger ends at #${lastSeq} (its tail was deleted)`,
    };
  if (atHead.hash !== head.hash)
    return {
      app,
      kind,
      seq: head.seq,
      problem: `rewritten: this home witnessed ${kind} #${head.seq} as ${short}…, the ledger holds ${atHead.hash.slice(0, 12)}…`,
    };
  return null;
}

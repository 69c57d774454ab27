import { hash as oneShotHash } from 'node:crypto';

export interface VerifyProblem {
  /** The app, or '(ledger)' for a problem of the database itself (a missing append-only trigger). */
  app: string;
  kind: 'release' | 'event' | 'schema';
  seq: number;
  /** e.g. 'hash mismatch', 'prevHash does not match the previous entry', 'sequence gap' */
  problem: string;
}

export interface VerifyResult {
  ok: boolean;
  releases: number;
  events: number;
  /** The first bad entry per app, in ledger order. */
  problems: VerifyProblem[];
  /** The last verified entry of each app's chains (for the home's witness); drivers fill it, `brr verify` does not print it. */
  heads?: Record<string, { release?: { seq: number; hash: string }; event?: { seq: number; hash: string } }>;
}

/** One stored ledger row as every driver keeps it: indexed columns beside the hashed body. */
export type StoredEntry = {
  app: string;
  seq: number;
  /** canonicalJson of the entry body, exactly as hashed when it was appended. */
  body: string;
  hash: string;
  prevHash: string | null;
} & ({ kind: 'release'; id: string } | { kind: 'event'; type: string; release: string | null });

/** Pure: the chain heads two verifiers saw, per app (VerifyResult.heads). */
export function headsOf(
  releases: ChainVerifier,
  events: ChainVerifier,
): Record<string, { release?: { seq: number; hash: string }; event?: { seq: number; hash: string } }> {
  const out: Record<string, { release?: { seq: number; hash: string }; event?: { seq: number; hash: string } }> = {};
  for (const [app, h] of releases.heads) (out[app] ??= {}).release = h;
  for (const [app, h] of events.heads) (out[app] ??= {}).event = h;
  return out;
}

/** One problem per append-only guard (trigger) the database should have and does not. */
export function missingGuardProblems(expected: readonly string[], present: ReadonlySet<string>): VerifyProblem[] {
  return expected
    .filter((name) => !present.has(name))
    .map((name) => ({
      app: '(ledger)',
      kind: 'schema' as const,
      seq: 0,
      problem: `append-only trigger ${name} is missing or disabled: history can be rewritten or deleted unnoticed`,
    }));
}

/**
 * Canonical JSON sorts keys, so these members always close a body, in this order; nothing
 * after `prevHash` can contain the text `,"prevHash":` unescaped, so its last occurrence is the
 * top-level member.
 */
const TAIL_KEYS = { release: 'prevHash,rollbackOf,seq', event: 'prevHash,release,seq,type' } as const;

/**
 * Checks hash chains row by row, so a driver can stream millions of rows without holding them.
 * Rows must arrive ordered by (app, seq). Only the first bad entry of each app's chain is
 * reported: everything after a break is suspect, and one precise pointer is what a human needs.
 *
 * The hash is recomputed over the stored text rather than a re-encoded parse, and only the few
 * members verify needs are read from it (the canonical tail, plus `app` and `id` by position):
 * a full JSON.parse of every body would double the time of verifying 100,000 releases. This is
 * exact for every text the ledger wrote. A text forged with a recomputed hash may fool these
 * reads, but it cannot fool the next entry's prevHash, which is where such forgery is caught
 * whatever the parser.
 */
export class ChainVerifier {
  readonly problems: VerifyProblem[] = [];
  /** The last entry of each app's chain that verified: what a witness records. */
  readonly heads = new Map<string, { seq: number; hash: string }>();
  count = 0;
  private app: string | null = null;
  private expectedSeq = 1;
  private prevHash: string | null = null;
  private broken = false;

  constructor(private readonly kind: StoredEntry['kind']) {}

  add(row: StoredEntry): void {
    this.count += 1;
    if (row.app !== this.app) {
      this.app = row.app;
      this.expectedSeq = 1;
      this.prevHash = null;
      this.broken = false;
    }
    if (this.broken) return;
    const problem = row.kind === this.kind ? this.check(row) : `not a ${this.kind} row`;
    if (problem) {
      this.broken = true;
      this.problems.push({ app: row.app, kind: this.kind, seq: row.seq, problem });
      return;
    }
    this.expectedSeq = row.seq + 1;
    this.prevHash = row.hash;
    this.heads.set(row.app, { seq: row.seq, hash: row.hash });
  }

  private check(row: StoredEntry): string | null {
    const { body } = row;
    // Same digest as core's sha256Hex; the one-shot API skips a Hash object per row (~2x here).
    if (oneShotHash('sha256', body, 'hex') !== row.hash)
      return 'hash mismatch: the stored body does not hash to the stored hash';
    const tailAt = body.lastIndexOf(',"prevHash":');
    let tail: Record<string, unknown>;
    try {
      tail = JSON.parse(`{${body.slice(tailAt + 1)}`) as Record<string, unknown>;
    } catch {
      tail = {};
    }
    if (tailAt < 0 || !body.startsWith('{') || Object.keys(tail).join() !== TAIL_KEYS[row.kind])
      return 'body is not canonical JSON of a ledger entry';
    const appAt = body.indexOf(',"app":');
    if (appAt < 0 || !body.startsWith(`,"app":${JSON.stringify(row.app)},`, appAt))
      return 'stored app column disagrees with the body';
    if (tail.seq !== row.seq) return 'stored seq column disagrees with the body';
    if (tail.prevHash !== row.prevHash) return 'stored prev_hash column disagrees with the body';
    if (row.kind === 'release') {
      const idAt = body.lastIndexOf(',"id":', tailAt);
      if (idAt < 0 || !body.startsWith(`,"id":${JSON.stringify(row.id)},"message":`, idAt))
        return 'stored id column disagrees with the body';
      if (row.id !== `v${row.seq}`) return 'release id does not match its seq';
    } else {
      if (tail.type !== row.type) return 'stored type column disagrees with the body';
      if (tail.release !== row.release) return 'stored release column disagrees with the body';
    }
    if (row.seq !== this.expectedSeq) return `sequence gap: expected seq ${this.expectedSeq}, found ${row.seq}`;
    if (row.prevHash !== this.prevHash) return 'prevHash does not match the previous entry';
    return null;
  }
}

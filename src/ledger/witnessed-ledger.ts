import { readdirSync } from 'node:fs';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import type { Config, LedgerEvent, Release } from '../core/types.js';
import type {
  AppendOptions,
  EventFilter,
  AcquireOptions,
  AcquiredLease,
  Lease,
  LeaseHolder,
  Ledger,
  ListReleasesOptions,
  NewEvent,
  ReleaseDraft,
  StoredEntry,
  VerifyProblem,
  VerifyResult,
} from './ledger.js';
import { headProblem, recordHeads, witnessedApps, type AppHeads } from './witness.js';

/**
 * A Ledger that keeps this home's witness (see witness.ts) and answers to it, for both drivers:
 * - every append records the new chain head in the witness file;
 * - a write to an app whose chains are shorter than (or differ from) what this home witnessed
 *   is refused ('ledger_behind_witness'), so an emptied or truncated ledger never quietly
 *   starts a new history; `newHistory` names apps whose new history is started on purpose;
 * - verify() adds the witness's findings to the chain check, and records the heads of a ledger
 *   that verifies (so a home also witnesses what others appended to a team ledger).
 */
export interface WitnessOptions {
  /** `<home>/ledger-witness.json` */
  file: string;
  /** Which ledger's section of the witness: 'embedded' or the redacted PostgreSQL URL. */
  ledgerKey: string;
  /** Where the ledger lives, for messages (redacted). */
  where: string;
  /** releases/ of the home, when the ledger is the home's own (embedded) one: its release directories witness too. */
  releasesDir?: string;
  /** Apps whose history may start over (BRR_NEW_HISTORY). */
  newHistory?: ReadonlySet<string>;
}

export class WitnessedLedger implements Ledger {
  /** Apps whose witnessed heads were already replaced by a new history in this process. */
  private readonly restarted = new Set<string>();

  constructor(
    private readonly inner: Ledger,
    private readonly opts: WitnessOptions,
  ) {}

  async appendRelease(
    app: string,
    draft: (latest: Release | null, staged: Config) => ReleaseDraft | Promise<ReleaseDraft>,
    opts?: AppendOptions,
  ): Promise<Release> {
    await this.refuseIfBehind(app, ['release', 'event']);
    const r = await this.inner.appendRelease(app, draft, opts);
    this.record(app, { release: { seq: r.seq, hash: r.hash } });
    return r;
  }

  async appendEvent(app: string, event: NewEvent, opts?: AppendOptions): Promise<LedgerEvent> {
    await this.refuseIfBehind(app, ['event']);
    const e = await this.inner.appendEvent(app, event, opts);
    this.record(app, { event: { seq: e.seq, hash: e.hash } });
    return e;
  }

  async verify(app?: string): Promise<VerifyResult> {
    const result = await this.inner.verify(app);
    const witnessed = this.witnessed();
    const apps = app === undefined ? Object.keys(witnessed).sort() : app in witnessed ? [app] : [];
    const extra: VerifyProblem[] = [];
    for (const a of apps) extra.push(...(await this.headProblems(a, ['release', 'event'])));
    if (this.opts.releasesDir) {
      const dirApps = app === undefined ? listDir(this.opts.releasesDir) : [app];
      for (const a of dirApps) {
        if (extra.some((p) => p.app === a && p.kind === 'release')) continue; // the witness said it already
        extra.push(...this.dirProblems(a, (await this.inner.latestRelease(a))?.seq ?? 0));
      }
    }
    const { heads, ...rest } = result;
    const problems = [...result.problems, ...extra];
    // A clean ledger's heads become witnessed: a home also vouches for what others appended.
    if (problems.length === 0 && heads) recordHeads(this.opts.file, this.opts.ledgerKey, heads);
    return { ...rest, ok: problems.length === 0, problems };
  }

  async importEntries(entries: readonly StoredEntry[]): Promise<void> {
    await this.inner.importEntries(entries);
    const heads: Record<string, AppHeads> = {};
    for (const e of entries) {
      const h = (heads[e.app] ??= {});
      if ((h[e.kind]?.seq ?? 0) < e.seq) h[e.kind] = { seq: e.seq, hash: e.hash };
    }
    for (const [app, h] of Object.entries(heads)) this.record(app, h);
  }

  /** Apps this home witnessed in this ledger (possibly absent from the ledger itself). */
  witnessedApps(): string[] {
    return Object.keys(this.witnessed()).sort();
  }

  /** The witness's findings for one app (empty when it holds). */
  async witnessProblems(app: string): Promise<VerifyProblem[]> {
    const problems = this.witnessed()[app] ? await this.headProblems(app, ['release', 'event']) : [];
    if (problems.length > 0) return problems;
    return this.dirProblems(app, (await this.inner.latestRelease(app))?.seq ?? 0);
  }

  // Everything else is the inner ledger's.
  listReleases(app: string, opts?: ListReleasesOptions): Promise<Release[]> {
    return this.inner.listReleases(app, opts);
  }
  getRelease(app: string, id: string): Promise<Release | null> {
    return this.inner.getRelease(app, id);
  }
  latestRelease(app: string): Promise<Release | null> {
    return this.inner.latestRelease(app);
  }
  listEvents(app: string): Promise<LedgerEvent[]> {
    return this.inner.listEvents(app);
  }
  lastEventOf(app: string, types: readonly string[], filter?: EventFilter): Promise<LedgerEvent | null> {
    return this.inner.lastEventOf(app, types, filter);
  }
  listEventsOf(app: string, types: readonly string[], release?: string): Promise<LedgerEvent[]> {
    return this.inner.listEventsOf(app, types, release);
  }
  listApps(): Promise<string[]> {
    return this.inner.listApps();
  }
  readEntries(app: string, kind: StoredEntry['kind'], afterSeq: number, limit: number): Promise<StoredEntry[]> {
    return this.inner.readEntries(app, kind, afterSeq, limit);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  acquireLease(
    app: string,
    holder: LeaseHolder,
    ttlMs: number,
    now: Date,
    opts?: AcquireOptions,
  ): Promise<AcquiredLease> {
    // A takeover appends its event inside the driver's transaction; the witness catches up on the
    // next append or clean verify (a lagging witness never raises a false alarm).
    return this.inner.acquireLease(app, holder, ttlMs, now, opts);
  }
  renewLease(app: string, token: number, ttlMs: number, now: Date): Promise<Lease> {
    return this.inner.renewLease(app, token, ttlMs, now);
  }
  releaseLease(app: string, token: number): Promise<void> {
    return this.inner.releaseLease(app, token);
  }
  getLease(app: string): Promise<Lease | null> {
    return this.inner.getLease(app);
  }
  breakLease(app: string): Promise<Lease | null> {
    return this.inner.breakLease(app);
  }

  private witnessed(): Record<string, AppHeads> {
    return witnessedApps(this.opts.file, this.opts.ledgerKey);
  }

  private startsOver(app: string): boolean {
    return this.opts.newHistory?.has(app) === true;
  }

  /**
   * Best effort, after the append committed: failing the command now would report a write that
   * happened as failed. A head not recorded only leaves the witness behind (never a false alarm),
   * and the next append or clean verify records it.
   */
  private record(app: string, heads: AppHeads): void {
    const replace = this.startsOver(app) && !this.restarted.has(app);
    try {
      recordHeads(this.opts.file, this.opts.ledgerKey, { [app]: heads }, replace ? new Set([app]) : undefined);
      if (replace) this.restarted.add(app);
    } catch {
      // see above
    }
  }

  private async headProblems(app: string, kinds: Array<StoredEntry['kind']>): Promise<VerifyProblem[]> {
    const w = this.witnessed()[app] ?? {};
    const out: VerifyProblem[] = [];
    for (const kind of kinds) {
      const head = w[kind];
      if (!head) continue;
      const [entry] = await this.inner.readEntries(app, kind, head.seq - 1, 1);
      const atHead = entry?.seq === head.seq ? entry : null;
      const last = atHead ? head.seq : await this.lastSeq(app, kind);
      const p = headProblem(app, kind, head, atHead, last);
      if (p) out.push(p);
    }
    return out;
  }

  private async lastSeq(app: string, kind: StoredEntry['kind']): Promise<number> {
    if (kind === 'release') return (await this.inner.latestRelease(app))?.seq ?? 0;
    return (await this.inner.listEvents(app)).at(-1)?.seq ?? 0;
  }

  /**
   * Release directories newer than the embedded ledger's latest release (`lastSeq`, 0 for none):
   * a history this home ran and the ledger lost. The second witness, for when the witness file
   * itself is gone too.
   */
  private dirProblems(app: string, lastSeq: number): VerifyProblem[] {
    if (!this.opts.releasesDir) return [];
    const ids = listDir(path.join(this.opts.releasesDir, app))
      .filter((n) => /^v[1-9][0-9]*$/.test(n))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    const newest = ids.at(-1);
    if (newest === undefined || Number(newest.slice(1)) <= lastSeq) return [];
    const dir = path.join(this.opts.releasesDir, app, newest);
    return [
      {
        app,
        kind: 'release',
        seq: Number(newest.slice(1)),
        problem:
          lastSeq === 0
            ? `missing: ${dir} was materialized, the ledger holds no releases of ${app} (emptied or replaced)`
            : `missing: ${dir} was materialized, the ledger ends at #${lastSeq} (its tail was deleted)`,
      },
    ];
  }

  private async refuseIfBehind(app: string, kinds: Array<StoredEntry['kind']>): Promise<void> {
    if (this.startsOver(app)) return;
    const w = this.witnessed()[app];
    let problems = w ? await this.headProblems(app, kinds) : [];
    if (problems.length === 0 && kinds.includes('release') && this.opts.releasesDir)
      problems = this.dirProblems(app, (await this.inner.latestRelease(app))?.seq ?? 0);
    if (problems.length === 0) return;
    const first = problems[0]!;
    throw new BrrError(
      'ledger_behind_witness',
      `refusing to write ${app}: the ledger ${this.opts.where} has lost history this home witnessed (${first.kind} #${first.seq}: ${first.problem})`,
      {
        hint: `restore the ledger from a backup (\`brr verify --app ${app}\` checks it against this home); to start a new history of ${app} on purpose, run the command again with BRR_NEW_HISTORY=${app}${this.opts.releasesDir ? ` after moving ${path.join(this.opts.releasesDir, app)} out of the home` : ''}`,
        details: { app, problems },
      },
    );
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

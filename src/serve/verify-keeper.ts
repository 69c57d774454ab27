/**
 * The server's own ledger verification: once at start, then every few minutes, and on demand
 * (POST /api/verify). GET /api/verify answers with the last result, so a dashboard polling it
 * costs no re-hash of a long history. One verification runs at a time; asking during one
 * waits for it.
 */
import type { Context } from '../app/context.js';
import { verifyLedger } from '../app/verify-ledger.js';
import type { ServeStats } from './metrics.js';

export interface VerifyState {
  ok: boolean;
  checkedAt: string;
  releases: number;
  events: number;
  problems: Array<{ app: string; kind: string; seq: number; problem: string }>;
}

export class VerifyKeeper {
  private last: VerifyState | null = null;
  private running: Promise<VerifyState> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly stats: ServeStats,
    private readonly everyMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    void this.verifyNow().catch(() => {});
    this.timer = setInterval(() => void this.verifyNow().catch(() => {}), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The last result (waiting for the first when none is there yet). */
  async latest(): Promise<VerifyState> {
    return this.last ?? (await this.verifyNow());
  }

  verifyNow(): Promise<VerifyState> {
    this.running ??= (async () => {
      try {
        const r = await verifyLedger(this.ctx);
        const state: VerifyState = {
          ok: r.ok,
          checkedAt: this.ctx.clock.now().toISOString(),
          releases: r.releases,
          events: r.events,
          problems: r.problems.map((p) => ({ app: p.app, kind: p.kind, seq: p.seq, problem: p.problem })),
        };
        this.last = state;
        this.stats.verify = { ok: state.ok, checkedAt: state.checkedAt };
        if (!state.ok) this.log(`ledger verification FAILED: ${state.problems.length} problem(s)`);
        return state;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}

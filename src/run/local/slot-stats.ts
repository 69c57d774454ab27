/**
 * Counters kept per process slot (app, type, index) for as long as the supervisor runs: they
 * outlive every incarnation and every release of the slot, which a ManagedProcess does not (a
 * switch makes new ones). `brr ps` and the console's metrics read them; nothing here is written
 * to disk, so a new supervisor starts from zero, as Prometheus counters expect of a restart.
 */

export interface HealthFailure {
  /** ISO time of the failed try. */
  at: string;
  /** Why it failed (`HTTP 503`, `exit code 1`, `health check http /healthz did not pass within 15s…`). */
  reason: string;
}

export interface SlotCounters {
  healthFailures: number;
  lastHealthFailure: HealthFailure | null;
}

export class SlotStats {
  private readonly slots = new Map<string, SlotCounters>();

  private static key(app: string, type: string, index: number): string {
    return `${app}\0${type}\0${index}`;
  }

  /** Counts one failed health try of the slot. */
  healthFailed(app: string, type: string, index: number, failure: HealthFailure): void {
    const k = SlotStats.key(app, type, index);
    const c = this.slots.get(k) ?? { healthFailures: 0, lastHealthFailure: null };
    c.healthFailures++;
    c.lastHealthFailure = failure;
    this.slots.set(k, c);
  }

  /** The slot's counters (zero when it never failed). */
  get(app: string, type: string, index: number): SlotCounters {
    const c = this.slots.get(SlotStats.key(app, type, index));
    return c ? { ...c } : { healthFailures: 0, lastHealthFailure: null };
  }
}

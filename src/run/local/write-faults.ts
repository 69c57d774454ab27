/**
 * Writes the supervisor could not make (a full disk, a read-only remount, EIO), kept so they
 * can be reported by `brr ps`/`brr status` and its log. The supervisor's job is to keep apps
 * running; its own bookkeeping and the apps' logs come second, so a failed write is recorded
 * here and retried, never thrown at the event loop (which would end the supervisor and leave
 * every app unsupervised).
 */
import { writeSync } from 'node:fs';

/** One kind of write that is failing now. */
export interface WriteFault {
  /** What could not be written: `children-file`, `log`, `supervisor-log`. */
  what: string;
  path: string;
  /** errno name (ENOSPC, EROFS, EIO, …). */
  code: string;
  /** When it first failed (ISO); cleared once a write succeeds again. */
  since: string;
  failures: number;
}

export class WriteFaults {
  private readonly faults = new Map<string, WriteFault>();

  /**
   * Records a failed write of `what` at `file`. Returns true on the first failure of a run of
   * failures (so callers log once per outage, not once per line).
   */
  failed(what: string, file: string, e: unknown): boolean {
    const key = `${what}:${file}`;
    const f = this.faults.get(key);
    if (f) {
      f.failures++;
      f.code = errnoOf(e);
      return false;
    }
    this.faults.set(key, { what, path: file, code: errnoOf(e), since: new Date().toISOString(), failures: 1 });
    return true;
  }

  /** A write of `what` at `file` succeeded: the fault (if any) is over. Returns true if one was. */
  ok(what: string, file: string): boolean {
    return this.faults.delete(`${what}:${file}`);
  }

  list(): WriteFault[] {
    return [...this.faults.values()].map((f) => ({ ...f }));
  }
}

export function errnoOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

/** Doubling back-off for retried writes: 250 ms, 500 ms, … capped at 10 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
}

/**
 * A line logger on a file descriptor (the supervisor's stderr, usually `supervisor.log`) that
 * never throws: Node's process.stderr on a file emits an 'error' event on ENOSPC, which ends
 * the process. Lines that cannot be written are counted and the count is written with the first
 * line that gets through again.
 */
export function fdLineLogger(fd: number, faults?: WriteFaults, file = `fd ${fd}`): (line: string) => void {
  let dropped = 0;
  return (line: string) => {
    const text =
      (dropped > 0 ? `${new Date().toISOString()} (${dropped} log line(s) lost to a failed write)\n` : '') +
      `${new Date().toISOString()} ${line}\n`;
    try {
      writeSync(fd, text);
      if (dropped > 0) faults?.ok('supervisor-log', file);
      dropped = 0;
    } catch (e) {
      dropped++;
      faults?.failed('supervisor-log', file, e);
    }
  };
}

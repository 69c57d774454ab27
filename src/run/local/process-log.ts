/**
 * A process's output on its way to `<logs>/<app>/<type>.<index>.log`. During a switch the old
 * and new process with the same type and index write to the same file, so writers share one
 * RotatingLog per path and write whole lines only (chunks of two processes never interleave
 * mid-line). The last lines of each process are also kept in memory: a failed switch records
 * the tail of the failing process, not of its neighbour in the file.
 */
import { mkdirSync } from 'node:fs';
import { HOME_DIR_MODE } from '../../core/home.js';
import path from 'node:path';
import { RotatingLog } from './log-file.js';
import { errnoOf, type WriteFaults } from './write-faults.js';

interface Shared {
  log: RotatingLog;
  users: number;
}

/** Open logs by path, reference-counted. */
export class LogFiles {
  private readonly open = new Map<string, Shared>();

  /** With `faults`, a log that cannot be written (disk full) drops output and is reported there. */
  constructor(
    private readonly faults?: WriteFaults,
    private readonly diag: (line: string) => void = () => {},
  ) {}

  acquire(file: string): ProcessLog {
    let s = this.open.get(file);
    if (!s) {
      const faults = this.faults;
      if (!faults) mkdirSync(path.dirname(file), { recursive: true, mode: HOME_DIR_MODE });
      const opts = faults && {
        onError: (e: unknown) => {
          if (faults.failed('log', file, e))
            this.diag(`cannot write ${file} (${errnoOf(e)}); its output is dropped until it can`);
        },
        onRecover: () => {
          if (faults.ok('log', file)) this.diag(`${file} written again`);
        },
      };
      s = { log: new RotatingLog(file, opts), users: 0 };
      this.open.set(file, s);
    }
    s.users++;
    let released = false;
    return new ProcessLog(s.log, () => {
      if (released) return;
      released = true;
      const cur = this.open.get(file);
      if (cur && --cur.users === 0) {
        cur.log.close();
        this.open.delete(file);
      }
    });
  }

  closeAll(): void {
    for (const s of this.open.values()) s.log.close();
    this.open.clear();
  }
}

const TAIL_LINES = 20;
// A process printing without newlines must not grow the buffer without bound.
const MAX_PARTIAL = 64 * 1024;

export class ProcessLog {
  // One partial line per stream, so a stdout fragment never joins a stderr one.
  private readonly partial = { stdout: '', stderr: '' };
  private tailLines: string[] = [];
  // Output can still arrive after the process was stopped and its log released.
  private closed = false;

  constructor(
    private readonly log: RotatingLog,
    private readonly onRelease: () => void,
  ) {}

  /** Feeds a chunk of stdout/stderr; complete lines go to the file. */
  write(chunk: Buffer | string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    if (this.closed) return;
    const lines = (this.partial[stream] + chunk.toString()).split('\n');
    let rest = lines.pop() ?? '';
    if (rest.length > MAX_PARTIAL) {
      lines.push(rest);
      rest = '';
    }
    this.partial[stream] = rest;
    for (const line of lines) this.line(line);
  }

  /** A line of brr's own (start, exit), marked as such by the RotatingLog. */
  marker(text: string): void {
    if (this.closed) return;
    this.flush();
    this.log.writeMarker(text);
    this.keep(text);
  }

  /** Writes a trailing line without newline (the process has exited). */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.line(this.partial[stream]);
      this.partial[stream] = '';
    }
  }

  /** The last ~20 lines this process wrote (this incarnation and earlier ones of the same slot). */
  tail(): string[] {
    return [...this.tailLines];
  }

  release(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.onRelease();
  }

  private line(line: string): void {
    this.log.write(line + '\n');
    this.keep(line);
  }

  private keep(line: string): void {
    this.tailLines.push(line);
    if (this.tailLines.length > TAIL_LINES) this.tailLines.splice(0, this.tailLines.length - TAIL_LINES);
  }
}

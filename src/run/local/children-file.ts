/**
 * `<home>/run/children.json`: the supervisor's children, rewritten atomically on every spawn
 * and exit. A supervisor killed with SIGKILL cannot stop its children; the next supervisor
 * reads this file to adopt the ones that run the current release and stop the others.
 *
 * A write that fails (disk full) never reaches the caller: the in-memory set stays the truth,
 * the fault is reported through WriteFaults and the write is retried with back-off.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { retryDelayMs, WriteFaults } from './write-faults.js';

export interface ChildEntry {
  app: string;
  release: string;
  type: string;
  index: number;
  pid: number;
  /** Process group (the child is its leader: spawned detached). */
  pgid: number;
  /** Field 22 of /proc/<pid>/stat, so a reused pid is never mistaken for our child. */
  startTime: number;
  /** The process's grace period, reused when stopping it as an orphan. */
  graceMs: number;
  /** Containment id (BRR_INSTANCE): its cgroup's name and the marker its descendants carry. */
  instance?: string;
  /** Its cgroup directory, when it was contained in one. */
  cgroup?: string | null;
  /** Ports private to this process (proxied ports), by name: what an adopting supervisor needs. */
  privatePorts?: Record<string, number>;
  /** Its private health port, if its health check uses one. */
  healthPort?: number | null;
}

interface ChildrenDoc {
  version: 1;
  supervisorPid: number;
  children: ChildEntry[];
}

export function childrenFilePath(runDir: string): string {
  return path.join(runDir, 'children.json');
}

/** Reads the file left by a previous supervisor; a missing or damaged file means no children known. */
export function readChildren(file: string): ChildEntry[] {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Partial<ChildrenDoc>;
    if (!Array.isArray(doc.children)) return [];
    return doc.children.filter(
      (c): c is ChildEntry =>
        typeof c === 'object' &&
        c !== null &&
        Number.isInteger(c.pid) &&
        Number.isInteger(c.pgid) &&
        c.pgid > 1 &&
        typeof c.startTime === 'number',
    );
  } catch {
    return [];
  }
}

/**
 * Keeps the current set of children and writes it on every change. Writes are synchronous
 * (a temp file renamed over the old one): the file must be complete and current at any instant
 * the supervisor may be killed.
 */
export class ChildrenFile {
  private readonly entries = new Map<number, ChildEntry>();
  private seq = 0;
  private retry: NodeJS.Timeout | null = null;
  private attempt = 0;

  constructor(
    private readonly file: string,
    private readonly faults: WriteFaults = new WriteFaults(),
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Starts from a known set (adopted children) and writes it. */
  reset(entries: ChildEntry[]): void {
    this.entries.clear();
    for (const e of entries) this.entries.set(e.pid, e);
    this.flush();
  }

  /** Stops retrying (supervisor shutdown). */
  dispose(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  add(entry: ChildEntry): void {
    this.entries.set(entry.pid, entry);
    this.flush();
  }

  remove(pid: number): void {
    if (this.entries.delete(pid)) this.flush();
  }

  clear(): void {
    this.entries.clear();
    this.flush();
  }

  private flush(): void {
    const doc: ChildrenDoc = { version: 1, supervisorPid: process.pid, children: [...this.entries.values()] };
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify(doc, null, 1) + '\n', { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (e) {
      // A half-written temp file would only take more of the space that is missing.
      rmSync(tmp, { force: true });
      if (this.faults.failed('children-file', this.file, e))
        this.log(
          `cannot write ${this.file} (${(e as { code?: string }).code ?? String(e)}); supervising from memory and retrying`,
        );
      this.scheduleRetry();
      return;
    }
    this.attempt = 0;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.faults.ok('children-file', this.file)) this.log(`${this.file} written again`);
  }

  private scheduleRetry(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.flush();
    }, retryDelayMs(this.attempt++));
    // The retry must not keep a stopped supervisor's process alive.
    this.retry.unref();
  }
}

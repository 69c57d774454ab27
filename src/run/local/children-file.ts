/**
 * `<home>/run/children.json`: the supervisor's children, rewritten atomically on every spawn
 * and exit. A supervisor killed with SIGKILL cannot stop its children, and they keep holding
 * the shared sockets; the next supervisor reads this file to find and stop them.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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
  /**
   * Port name → the private port on 127.0.0.1 the process listens on (`handoff: proxy`), so a
   * supervisor that adopts running processes can point its proxies at them again.
   */
  privatePorts?: Record<string, number>;
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

  constructor(private readonly file: string) {}

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
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 1) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/**
 * Reading the local target's process logs, `<logs>/<app>/<type>.<index>.log` (rotated to
 * `.log.1` … by RotatingLog): the last lines of each process, and following them as they grow.
 * Following polls rather than using fs.watch (unreliable across renames and on some file
 * systems) and tracks each file by inode, so it keeps going across a rotation without losing or
 * repeating a line, and picks up log files of processes that appear later (a scale change).
 */
import { closeSync, openSync, readdirSync, readSync, fstatSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const DEFAULT_LINES = 100;
const CHUNK = 64 * 1024;
const NL = 0x0a;

interface Source {
  /** `web.1` */
  source: string;
  type: string;
  index: number;
  file: string;
}

function listSources(logsDir: string, app: string, processType?: string): Source[] {
  const dir = path.join(logsDir, app);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: Source[] = [];
  for (const name of names) {
    const m = /^(.+)\.(\d+)\.log$/.exec(name);
    if (!m || (processType !== undefined && m[1] !== processType)) continue;
    out.push({ source: `${m[1]}.${m[2]}`, type: m[1]!, index: Number(m[2]), file: path.join(dir, name) });
  }
  return out.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.index - b.index));
}

/** The current (not rotated) log files of an app, optionally of one process type, sorted by type and index. */
export function logFilesFor(logsDir: string, app: string, processType?: string): string[] {
  return listSources(logsDir, app, processType).map((s) => s.file);
}

/**
 * The last `lines` lines (default 100) of each process's log, reaching into rotated files when
 * the current one is shorter. Grouped by source in `logFilesFor` order, oldest line first.
 */
export async function tailLogs(
  logsDir: string,
  app: string,
  opts: { processType?: string; lines?: number } = {},
): Promise<Array<{ source: string; line: string }>> {
  const n = opts.lines ?? DEFAULT_LINES;
  const out: Array<{ source: string; line: string }> = [];
  for (const s of listSources(logsDir, app, opts.processType)) {
    for (const line of lastLinesOfFiles(s.file, n, null)) out.push({ source: s.source, line });
  }
  return out;
}

/**
 * Prints the last `lines` lines (default 100) of each process's log, then every new line as it
 * is written, until `signal` aborts. Each source's lines arrive in order; sources interleave by
 * poll (every `pollMs`, default 250).
 */
export async function followLogs(
  logsDir: string,
  app: string,
  opts: {
    processType?: string;
    lines?: number;
    onLine: (source: string, line: string) => void;
    signal: AbortSignal;
    pollMs?: number;
  },
): Promise<void> {
  const { signal, onLine } = opts;
  const n = opts.lines ?? DEFAULT_LINES;
  const pollMs = opts.pollMs ?? 250;
  const tracked = new Map<string, Tracked>();
  if (signal.aborted) return;
  try {
    // Start each existing log at its last complete line; what follows is read by polling.
    for (const s of listSources(logsDir, app, opts.processType)) {
      const t = await Tracked.open(s, onLine, 'end');
      if (!t) continue;
      tracked.set(s.source, t);
      if (n > 0) for (const line of lastLinesOfFiles(s.file, n, t.offset)) onLine(s.source, line);
    }
    while (!signal.aborted) {
      for (const s of listSources(logsDir, app, opts.processType)) {
        if (tracked.has(s.source)) continue;
        // A log that appeared after we started: all of it is new.
        const t = await Tracked.open(s, onLine, 'start');
        if (t) tracked.set(s.source, t);
      }
      for (const t of tracked.values()) await t.poll();
      await sleep(pollMs, signal);
    }
  } finally {
    for (const t of tracked.values()) await t.close();
  }
}

/** One source being followed: an open handle on the file it was at, read by offset. */
class Tracked {
  private partial: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly src: Source,
    private readonly onLine: (source: string, line: string) => void,
    private fh: FileHandle,
    private ino: number,
    public offset: number,
  ) {}

  static async open(
    src: Source,
    onLine: (source: string, line: string) => void,
    from: 'start' | 'end',
  ): Promise<Tracked | null> {
    const fh = await openIfExists(src.file);
    if (!fh) return null;
    const st = await fh.stat();
    // From the end: just after the last complete line, so an unfinished line is read whole later.
    const offset = from === 'start' ? 0 : lastLineEnd(fh.fd, st.size);
    return new Tracked(src, onLine, fh, st.ino, offset);
  }

  async poll(): Promise<void> {
    await this.drain();
    let st;
    try {
      st = statSync(this.src.file);
    } catch {
      return; // gone for now (deleted, or mid-rotation): keep reading the file we have
    }
    if (st.ino === this.ino) {
      if (st.size < this.offset) this.offset = 0; // truncated in place
      return;
    }
    // Rotated. The writer has moved to the new file, so the old one is complete: finish it,
    // then read any rotated files newer than it (if rotation outran polling), then the new file.
    await this.drain();
    this.flushPartial();
    const oldIno = this.ino;
    await this.fh.close();
    const between: string[] = [];
    for (let i = 1; ; i++) {
      const rotated = `${this.src.file}.${i}`;
      let rst;
      try {
        rst = statSync(rotated);
      } catch {
        between.length = 0; // the old file was dropped: which files are newer is unknown, skip them rather than repeat lines
        break;
      }
      if (rst.ino === oldIno) break;
      between.unshift(rotated);
    }
    for (const file of between) {
      const fh = await openIfExists(file);
      if (!fh) continue;
      await this.readAll(fh, 0);
      await fh.close();
      this.flushPartial();
    }
    const fh = await openIfExists(this.src.file);
    if (!fh) {
      // Renamed away and not yet recreated: pick it up on a later poll.
      this.fh = await open('/dev/null', 'r');
      this.ino = -1;
      this.offset = 0;
      return;
    }
    this.fh = fh;
    this.ino = (await fh.stat()).ino;
    this.offset = 0;
    await this.drain();
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => {});
  }

  private async drain(): Promise<void> {
    this.offset = await this.readAll(this.fh, this.offset);
  }

  private async readAll(fh: FileHandle, from: number): Promise<number> {
    const buf = Buffer.alloc(CHUNK);
    let pos = from;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) return pos;
      pos += bytesRead;
      this.emit(buf.subarray(0, bytesRead));
    }
  }

  private emit(chunk: Buffer): void {
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let nl = data.indexOf(NL);
    while (nl !== -1) {
      this.onLine(this.src.source, data.subarray(0, nl).toString('utf8'));
      data = data.subarray(nl + 1);
      nl = data.indexOf(NL);
    }
    this.partial = Buffer.from(data);
  }

  private flushPartial(): void {
    if (this.partial.length) this.onLine(this.src.source, this.partial.toString('utf8'));
    this.partial = Buffer.alloc(0);
  }
}

async function openIfExists(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The last `n` lines of `file` (read up to byte `end`, or to its end when null), continued into
 * `file.1`, `file.2`, … while short. A last line without a newline counts as a line.
 */
function lastLinesOfFiles(file: string, n: number, end: number | null): string[] {
  const lines: string[] = [];
  for (let i = 0; lines.length < n; i++) {
    const f = i === 0 ? file : `${file}.${i}`;
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      break;
    }
    try {
      const size = i === 0 && end !== null ? end : fstatSync(fd).size;
      lines.unshift(...lastLines(fd, size, n - lines.length));
    } finally {
      closeSync(fd);
    }
  }
  return lines;
}

/** Last `n` lines of bytes [0, end) of fd, reading backwards in chunks. */
function lastLines(fd: number, end: number, n: number): string[] {
  if (n <= 0 || end <= 0) return [];
  const chunks: Buffer[] = [];
  let pos = end;
  let newlines = 0;
  // A final newline ends the last line; it does not start another one.
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, end - 1);
  const want = last[0] === NL ? n + 1 : n;
  while (pos > 0 && newlines < want) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, pos);
    chunks.unshift(buf);
    for (const b of buf) if (b === NL) newlines++;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  // Unless we read from the start of the file, the first part is a cut line: there are at least
  // n+1 parts then, and slicing drops it.
  return parts.slice(-n);
}

/** Offset just after the last newline in bytes [0, size) of fd (0 if none). */
function lastLineEnd(fd: number, size: number): number {
  const buf = Buffer.alloc(CHUNK);
  let pos = size;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    readSync(fd, buf, 0, len, pos);
    const i = buf.subarray(0, len).lastIndexOf(NL);
    if (i !== -1) return pos + i + 1;
  }
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

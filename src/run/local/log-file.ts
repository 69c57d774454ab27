/**
 * A per-process log file with size-based rotation: `web.1.log` is renamed to `web.1.log.1`
 * (older ones shift to `.2` … `.<keep>`, the oldest is dropped) and a new `web.1.log` begins.
 * Output is kept raw. Rotation happens only between lines, so a reader never sees a line split
 * across two files (except a single line longer than `maxBytes`, which is cut).
 *
 * With `onError` set, a failed write (disk full) drops that output instead of throwing: a
 * process's log must never take the supervisor down. The file is reopened on the next write.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { HOME_DIR_MODE, HOME_FILE_MODE } from '../../core/home.js';

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_KEEP = 3;

const NL = 0x0a;

export class RotatingLog {
  private readonly maxBytes: number;
  private readonly keep: number;
  private fd: number | null = null;
  private size = 0;
  private atLineStart = true;
  // Bytes of the unfinished last line in the current file.
  private lineBytes = 0;

  private failing = false;
  private readonly onError: ((e: unknown) => void) | undefined;
  private readonly onRecover: (() => void) | undefined;

  constructor(
    private readonly file: string,
    opts: { maxBytes?: number; keep?: number; onError?: (e: unknown) => void; onRecover?: () => void } = {},
  ) {
    this.maxBytes = Math.max(1, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    this.keep = Math.max(0, Math.floor(opts.keep ?? DEFAULT_KEEP));
    this.onError = opts.onError;
    this.onRecover = opts.onRecover;
    this.guarded(() => {
      mkdirSync(path.dirname(file), { recursive: true, mode: HOME_DIR_MODE });
      this.openFile();
    });
  }

  /** Appends raw output (synchronously). */
  write(chunk: Buffer | string): void {
    this.guarded(() => this.writeUnguarded(chunk));
  }

  private guarded(fn: () => void): void {
    if (!this.onError) return fn();
    try {
      fn();
    } catch (e) {
      this.failing = true;
      // Reopen on the next write: the size and line state are read back from the file then.
      try {
        this.close();
      } catch {
        this.fd = null;
      }
      this.onError(e);
      return;
    }
    if (this.failing) {
      this.failing = false;
      this.onRecover?.();
    }
  }

  private writeUnguarded(chunk: Buffer | string): void {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.fd === null) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.openFile();
    }
    while (buf.length > 0) {
      const room = this.maxBytes - this.size;
      if (buf.length <= room) {
        this.append(buf);
        return;
      }
      // Fill this file with the complete lines that fit.
      const lastNl = room > 0 ? buf.lastIndexOf(NL, room - 1) : -1;
      if (lastNl >= 0) {
        this.append(buf.subarray(0, lastNl + 1));
        buf = buf.subarray(lastNl + 1);
        continue;
      }
      if (this.atLineStart && this.size > 0) {
        this.rotate();
        continue;
      }
      // An unfinished line, or a first line longer than the room: it stays in this file whole,
      // unless the line alone outgrows a file.
      const nl = buf.indexOf(NL);
      const lineEnd = nl === -1 ? buf.length : nl + 1;
      const lineRoom = Math.max(0, this.maxBytes - this.lineBytes);
      if (lineEnd > lineRoom) {
        this.append(buf.subarray(0, lineRoom));
        buf = buf.subarray(lineRoom);
        this.rotate();
        continue;
      }
      this.append(buf.subarray(0, lineEnd));
      buf = buf.subarray(lineEnd);
    }
  }

  /** Writes brr's own line, `--- brr: <text> ---`, on a line of its own. */
  writeMarker(text: string): void {
    this.write(`${this.atLineStart ? '' : '\n'}--- brr: ${text} ---\n`);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private openFile(): void {
    this.fd = openSync(this.file, 'a', HOME_FILE_MODE);
    this.size = fstatSync(this.fd).size;
    this.lineBytes = 0;
    this.atLineStart = true;
    if (this.size > 0) {
      // Continue an existing file: is its last line finished?
      const last = Buffer.alloc(1);
      const r = openSync(this.file, 'r');
      try {
        readSync(r, last, 0, 1, this.size - 1);
      } finally {
        closeSync(r);
      }
      this.atLineStart = last[0] === NL;
    }
  }

  private append(buf: Buffer): void {
    if (buf.length === 0 || this.fd === null) return;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.size += buf.length;
    const nl = buf.lastIndexOf(NL);
    this.lineBytes = nl === -1 ? this.lineBytes + buf.length : buf.length - nl - 1;
    this.atLineStart = buf[buf.length - 1] === NL;
  }

  private rotate(): void {
    this.close();
    if (this.keep === 0) {
      rmSync(this.file, { force: true });
    } else {
      for (let i = this.keep - 1; i >= 1; i--) {
        const from = `${this.file}.${i}`;
        if (existsSync(from)) renameSync(from, `${this.file}.${i + 1}`);
      }
      renameSync(this.file, `${this.file}.1`);
    }
    this.openFile();
  }
}

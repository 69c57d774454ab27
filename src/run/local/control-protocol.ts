/**
 * The supervisor's control protocol: newline-delimited JSON over a Unix socket. A request is
 * `{ token, id, op, ...args }`; the answer to it is any number of `{ id, progress }` lines and
 * then one `{ id, ok: true, result }` or `{ id, ok: false, error }`. Shared by server and client
 * so both sides agree on framing and on how errors cross the wire.
 */
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync, renameSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { BrrError, isBrrError, type ErrorCode } from '../../core/errors.js';

export type ControlOp = 'ping' | 'ps' | 'status' | 'switch' | 'shutdown' | 'problems';
export const CONTROL_OPS: readonly ControlOp[] = ['ping', 'ps', 'status', 'switch', 'shutdown', 'problems'];

export interface ControlRequest {
  token: string;
  id: number | string;
  op: ControlOp;
  [arg: string]: unknown;
}

export interface WireError {
  /** An `ErrorCode` of the sending brr (plain string on the wire). */
  code: string;
  message: string;
  hint?: string;
  exitCode: number;
  details?: Record<string, unknown>;
}

export type ControlResponse =
  | { id: number | string | null; progress: string }
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: WireError };

/** A line longer than this is not a request: refuse it instead of buffering without end. */
export const MAX_LINE_BYTES = 1024 * 1024;

export function toWireError(e: unknown): WireError {
  if (isBrrError(e))
    return { code: e.code, message: e.message, hint: e.hint, exitCode: e.exitCode, details: e.details };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e), exitCode: 1 };
}

/** The supervisor is brr too, but maybe another version: its code is relayed as it came, catalogued or not. */
export function fromWireError(w: WireError): BrrError {
  return new BrrError(w.code as ErrorCode, w.message, { hint: w.hint, exitCode: w.exitCode, details: w.details });
}

/** Splits a byte stream into lines; `onLine` gets each complete line, `onOverflow` a too-long one. */
export class LineSplitter {
  private buf = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim()) this.onLine(line);
    }
    if (this.buf.length > MAX_LINE_BYTES) {
      this.buf = '';
      this.onOverflow();
    }
  }
}

export function tokenPath(runDir: string): string {
  return path.join(runDir, 'token');
}

/** A fresh random token, written 0600 (atomically: no reader sees a half-written token). */
export function writeToken(runDir: string): string {
  const token = randomBytes(32).toString('hex');
  const file = tokenPath(runDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, token + '\n');
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return token;
}

export function readToken(runDir: string): string {
  return readFileSync(tokenPath(runDir), 'utf8').trim();
}

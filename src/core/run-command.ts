import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * The one executor for commands brr runs to completion on the user's behalf (build recipes,
 * container engines, release-phase commands). Callers build the argv as data (Kamal style) and
 * hand it here; this file owns spawning, appending output to a log file, keeping the last lines
 * for the error message, and stopping the command (and, in a group, everything it started).
 * It lives in core/ so build/ and app/ can share it; it imports nothing else of ours.
 */

/** A command line, as data: `[program, ...args]`. */
export type Argv = readonly string[];

/** `sh -c <script>`: how a user-written command line (brr.yaml) becomes an argv. */
export function shellArgv(script: string): Argv {
  return ['/bin/sh', '-c', script];
}

export interface RunCommandOptions {
  argv: Argv;
  cwd?: string;
  /** The complete environment of the command (nothing is inherited beyond it). */
  env?: NodeJS.ProcessEnv;
  /** Output (both streams) is appended here; created when missing. */
  logFile: string;
  /** Mode of a newly created log file (e.g. 0o600 when output may hold secrets). */
  logMode?: number;
  /** First line written to the log for this run (several runs may append to one file). */
  header?: string;
  /** Last line written to the log once the command has ended, from its result. */
  footer?: (result: RunCommandResult) => string | undefined;
  /** How many of the last output lines the result keeps. */
  tailLines: number;
  /** Every output line, as it arrives (progress). */
  onLine?: (line: string) => void;
  /**
   * Run in its own process group: stopping it stops what it started (a migration tool's workers),
   * and brr exiting (Ctrl-C) sends the group SIGTERM, since the terminal's own no longer reaches it.
   */
  processGroup?: boolean;
  /** Abort: SIGTERM (to the group when there is one), SIGKILL after `killAfterMs`. */
  signal?: AbortSignal;
  killAfterMs?: number;
}

export interface RunCommandResult {
  /** The exit code; null when killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (bad cwd, program missing). */
  error: string | null;
  /** The last `tailLines` lines of output, stdout and stderr interleaved as they came. */
  lastLines: string[];
}

/** Splits a stream into lines; a partial line waits for its end. */
class Lines {
  private partial = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    parts.forEach(this.onLine);
  }
  end(): void {
    if (this.partial !== '') this.onLine(this.partial);
    this.partial = '';
  }
}

/** How long output still in flight may take once the command itself has exited. */
const AFTER_EXIT_MS = 2_000;

/**
 * Runs `argv` to completion and reports how it ended; it never rejects for the command's own
 * failure (the caller decides what a non-zero exit means).
 */
export async function runCommand(opts: RunCommandOptions): Promise<RunCommandResult> {
  const log = createWriteStream(opts.logFile, {
    flags: 'a',
    mode: opts.logMode ?? 0o600, // logs live in the home: owner only
  });
  const logClosed = new Promise<void>((resolve) => log.once('close', () => resolve()));
  log.on('error', () => {}); // a full disk must not hide the command's own result
  if (opts.header !== undefined) log.write(`${opts.header}\n`);
  const tail: string[] = [];
  const keep = (l: string) => {
    tail.push(l);
    if (tail.length > opts.tailLines) tail.shift();
    opts.onLine?.(l);
  };
  // One splitter per stream, so an stderr line cannot be spliced into the middle of an stdout one.
  const streams = [new Lines(keep), new Lines(keep)];
  const group = opts.processGroup ?? false;
  const result = await new Promise<RunCommandResult>((resolve) => {
    const child = spawn(opts.argv[0]!, opts.argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group,
    });
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(group ? -child.pid : child.pid, sig);
      } catch {}
    };
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    // The CLI exits on SIGINT, and 'exit' handlers may still send signals (synchronously).
    const onExit = () => kill('SIGTERM');
    if (group) process.once('exit', onExit);
    const stop = () => {
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), opts.killAfterMs ?? 5_000);
    };
    const finish = (r: RunCommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', stop);
      process.removeListener('exit', onExit);
      resolve(r);
    };
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener('abort', stop, { once: true });
    ([child.stdout, child.stderr] as Readable[]).forEach((stream, i) => {
      stream.setEncoding('utf8'); // decodes characters split across chunks correctly
      stream.on('data', (d: string) => {
        log.write(d);
        streams[i]!.push(d);
      });
    });
    // Without a pid it never started (bad cwd, no such program): 'close' may never come then.
    child.on('error', (e) => {
      if (child.pid === undefined) finish({ exitCode: null, signal: null, error: e.message, lastLines: [e.message] });
    });
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      streams.forEach((s) => s.end());
      finish({ exitCode: code, signal, error: null, lastLines: [...tail] });
    };
    child.on('close', done);
    // Something it started in the background may hold the pipes open: the command's own exit
    // decides, after a moment for the output still in flight.
    child.on('exit', (code, signal) => setTimeout(() => done(code, signal), AFTER_EXIT_MS).unref());
  });
  const footer = opts.footer?.(result);
  log.end(footer === undefined ? undefined : `${footer}\n`);
  await logClosed;
  return result;
}

/** "exited with code 3", "was killed by SIGTERM", or why it could not start. */
export function describeEnd(r: RunCommandResult): string {
  if (r.error !== null) return `could not start: ${r.error}`;
  return r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
}

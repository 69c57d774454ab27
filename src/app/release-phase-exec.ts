import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * Runs one release-phase command: `sh -c` in its own process group (so stopping it stops what
 * it started, e.g. a migration tool's workers), output appended to a log file, the last lines
 * kept for the ledger and the error message.
 *
 * It does not carry the supervisor's home marker: a supervisor restarting meanwhile would take
 * it for an orphaned app process and kill a migration half way.
 */

export interface ReleaseCommand {
  command: string;
  cwd: string;
  env: Record<string, string>;
  logFile: string;
  /** First line written to the log for this run (runs of one release append to one file). */
  header: string;
  tailLines: number;
  onLine?: (line: string) => void;
  /** Abort: SIGTERM to the group, SIGKILL after `killAfterMs`. */
  signal?: AbortSignal;
  killAfterMs?: number;
}

export interface ReleaseCommandResult {
  exitCode: number | null;
  signal: string | null;
  /** Set when the command could not be started at all. */
  error: string | null;
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

export async function execReleaseCommand(cmd: ReleaseCommand): Promise<ReleaseCommandResult> {
  const log = createWriteStream(cmd.logFile, { flags: 'a', mode: 0o600 });
  const logClosed = new Promise<void>((resolve) => log.once('close', () => resolve()));
  log.on('error', () => {}); // a full disk must not hide the command's own result
  log.write(`${cmd.header}\n`);
  const tail: string[] = [];
  const keep = (l: string) => {
    tail.push(l);
    if (tail.length > cmd.tailLines) tail.shift();
    cmd.onLine?.(l);
  };
  // One splitter per stream, so an stderr line cannot be spliced into the middle of an stdout one.
  const streams = [new Lines(keep), new Lines(keep)];
  const result = await new Promise<ReleaseCommandResult>((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd.command], {
      cwd: cmd.cwd,
      env: cmd.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    // Its own process group keeps it out of the terminal's Ctrl-C, so brr passes that on: the
    // CLI exits on SIGINT, and 'exit' handlers may still send signals (synchronously).
    const onExit = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {}
    };
    process.once('exit', onExit);
    const finish = (r: ReleaseCommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      cmd.signal?.removeEventListener('abort', stop);
      process.removeListener('exit', onExit);
      resolve(r);
    };
    const stop = () => {
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {}
      };
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), cmd.killAfterMs ?? 5_000);
    };
    if (cmd.signal?.aborted) stop();
    else cmd.signal?.addEventListener('abort', stop, { once: true });
    ([child.stdout, child.stderr] as Readable[]).forEach((stream, i) => {
      stream.setEncoding('utf8'); // decodes characters split across chunks correctly
      stream.on('data', (d: string) => {
        log.write(d);
        streams[i]!.push(d);
      });
    });
    // Without a pid it never started (bad cwd, no /bin/sh): 'close' may never come then.
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
    child.on('exit', (code, signal) => setTimeout(() => done(code, signal), 2_000).unref());
  });
  log.end(
    `--- ${result.exitCode !== null ? `exit code ${result.exitCode}` : `ended by ${result.signal ?? result.error}`}\n`,
  );
  await logClosed;
  return result;
}

/**
 * The CLI's end of the control socket: connect to the home's supervisor (or start one in the
 * background), send requests, follow their progress.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrrError } from '../../core/errors.js';
import { ensureHome, HOME_FILE_MODE, type HomePaths } from '../../core/home.js';
import { withSocketAddress } from './socket-address.js';
import { fromWireError, LineSplitter, readToken, type ControlOp, type ControlResponse } from './control-protocol.js';

export interface SupervisorClient {
  /** Sends one request; progress lines go to `onProgress`; rejects with the supervisor's BrrError. */
  request<T = unknown>(
    op: ControlOp,
    args?: Record<string, unknown>,
    onProgress?: (message: string) => void,
  ): Promise<T>;
  close(): void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (message: string) => void;
}

function unreachable(message: string, home: HomePaths, cause?: unknown): BrrError {
  return new BrrError('supervisor_unreachable', message, {
    hint: `see the supervisor's log: ${supervisorLogPath(home)}`,
    cause,
  });
}

export function supervisorLogPath(home: HomePaths): string {
  return path.join(home.logs, 'supervisor.log');
}

/** A client of the supervisor of `home`, or null when none is running there. */
export async function connectSupervisor(home: HomePaths): Promise<SupervisorClient | null> {
  const conn = await withSocketAddress(
    home.socket,
    (address) =>
      new Promise<net.Socket | null>((resolve) => {
        const c = net.connect(address);
        c.once('connect', () => resolve(c));
        c.once('error', () => resolve(null)); // ENOENT, ECONNREFUSED: nobody listens
      }),
    () => null,
  );
  if (!conn) return null;
  let token: string;
  try {
    token = readToken(home.run);
  } catch (e) {
    conn.destroy();
    throw new BrrError('supervisor_unreachable', `cannot read the supervisor's token in ${home.run}`, {
      hint: 'run brr as the user that started the supervisor',
      cause: e,
    });
  }
  const pending = new Map<number, Pending>();
  let nextId = 1;
  // Keep the CLI's event loop alive only while an answer is awaited.
  const refresh = () => (pending.size > 0 ? conn.ref() : conn.unref());
  refresh();
  const lines = new LineSplitter(
    (line) => {
      let msg: ControlResponse;
      try {
        msg = JSON.parse(line) as ControlResponse;
      } catch {
        return;
      }
      const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
      if (!p) {
        // An answer without a known id refuses the whole connection (bad token, bad framing).
        if ('ok' in msg && !msg.ok) for (const q of pending.values()) q.reject(fromWireError(msg.error));
        return;
      }
      if ('progress' in msg) return p.onProgress?.(msg.progress);
      pending.delete(msg.id as number);
      refresh();
      if (msg.ok) p.resolve(msg.result);
      else p.reject(fromWireError(msg.error));
    },
    () => conn.destroy(),
  );
  conn.on('data', (d) => lines.push(d));
  conn.on('error', () => {});
  conn.on('close', () => {
    for (const p of pending.values())
      p.reject(unreachable('the supervisor closed the connection before answering', home));
    pending.clear();
  });
  return {
    request<T>(op: ControlOp, args: Record<string, unknown> = {}, onProgress?: (message: string) => void): Promise<T> {
      if (conn.destroyed || !conn.writable)
        return Promise.reject(unreachable('the connection to the supervisor is closed', home));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
        refresh();
        conn.write(JSON.stringify({ ...args, token, id, op }) + '\n');
      });
    },
    close() {
      conn.end();
      conn.unref();
    },
  };
}

/**
 * A client of the running supervisor; when none answers, starts `launchArgv` (e.g.
 * `[process.execPath, brrBin, 'supervise', '--home', root]`) detached in the background, its
 * output appended to `<logs>/supervisor.log`, and waits up to `timeoutMs` for it to answer ping.
 */
export async function ensureSupervisor(
  home: HomePaths,
  launchArgv: string[],
  timeoutMs = 10_000,
): Promise<SupervisorClient> {
  const existing = await connectSupervisor(home);
  if (existing) {
    // A supervisor that is being killed can still accept a connection for a moment.
    try {
      await existing.request('ping');
      return existing;
    } catch (e) {
      existing.close();
      if (!(e instanceof BrrError) || e.code !== 'supervisor_unreachable') throw e;
    }
  }
  const [cmd, ...args] = launchArgv;
  if (!cmd) throw new BrrError('supervisor_unreachable', 'no command to start the supervisor with');
  ensureHome(home.root, home.logs);
  const logFile = supervisorLogPath(home);
  const fd = openSync(logFile, 'a', HOME_FILE_MODE);
  // Where this supervisor's output starts, so its own last words can be quoted if it dies.
  const logStart = fstatSync(fd).size;
  let exit: string | null = null;
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', (e) => (exit = e.message));
    child.on('exit', (code, signal) => (exit = signal ? `killed by ${signal}` : `exit code ${code}`));
    child.unref();
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    // Read before trying: a supervisor that exited may have lost the race to another one,
    // which this try then finds.
    const exitedBefore = exit;
    try {
      const c = await connectSupervisor(home);
      if (c) {
        try {
          await c.request('ping');
          return c;
        } catch (e) {
          c.close();
          lastError = e;
        }
      }
    } catch (e) {
      lastError = e;
    }
    if (exitedBefore !== null) {
      const why = lastErrorLine(logFile, logStart);
      throw unreachable(
        `the supervisor exited before answering (${exitedBefore})${why ? `: ${why}` : ''}`,
        home,
        lastError,
      );
    }
    await sleep(100);
  }
  throw unreachable(`the supervisor did not answer within ${Math.round(timeoutMs / 1000)}s`, home, lastError);
}

/** The last `error: …` line a supervisor wrote to its log after `from` (bytes), or null. */
function lastErrorLine(logFile: string, from: number): string | null {
  try {
    const text = readFileSync(logFile).subarray(from).toString('utf8');
    const line = text
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('error: '));
    return line ? line.slice('error: '.length).slice(0, 500) : null;
  } catch {
    return null;
  }
}

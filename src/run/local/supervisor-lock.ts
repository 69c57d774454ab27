/**
 * One supervisor per home. The pid file is created exclusively and holds the owner's pid and
 * start time, so a pid file left by a killed supervisor (or a pid reused after a reboot) is
 * recognised as stale and taken over, while a supervisor that is still starting is respected.
 * An owner that is alive but silent is waited for (OWNER_SETTLE_MS): one SIGKILLed a moment ago
 * still reads as alive, and refusing then would leave the home without a supervisor.
 */
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import { BrrError } from '../../core/errors.js';
import type { HomePaths } from '../../core/home.js';
import { isLive, readProcStat } from '../../core/proc.js';
import { withSocketAddress } from './socket-address.js';

export interface SupervisorLock {
  /** Removes the pid file and the socket, if they are still ours. */
  release(): void;
}

function running(pid: number | null, why: string): BrrError {
  return new BrrError(
    'supervisor_running',
    `a supervisor is already running for this home${pid ? ` (pid ${pid})` : ''}: ${why}`,
    {
      hint: 'use it (brr ps, brr run) or stop it first with `brr shutdown`',
    },
  );
}

/**
 * How long a starter waits on a pid file whose owner is alive but does not answer on the socket:
 * the owner is either starting (it answers soon) or dying (SIGKILLed a moment ago: kill(2) only
 * queues the signal, and a busy process reads as running for a while after it). Without the wait
 * a `brr supervise` right after `kill -9` of the old one refuses to start and nothing supervises.
 */
export const OWNER_SETTLE_MS = 5_000;

/**
 * True when a supervisor answers on the socket. Accepting a connection is not enough: the socket
 * of a supervisor being killed accepts for a moment after its main thread is gone. Any answer
 * counts (a request without token is refused, which proves someone is there).
 */
export function socketAnswers(socketPath: string, timeoutMs = 2_000): Promise<boolean> {
  return withSocketAddress(
    socketPath,
    (address) => socketAddressAnswers(address, timeoutMs),
    () => false,
  );
}

function socketAddressAnswers(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(address);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(answer);
    };
    // Connected but silent: something holds the socket; refuse to take it over.
    const timer = setTimeout(() => done(true), timeoutMs);
    c.once('connect', () => c.write('{"id":0,"op":"ping"}\n'));
    c.once('data', () => done(true));
    c.once('error', () => done(false));
    c.once('close', () => done(false));
  });
}

export async function acquireSupervisorLock(
  home: HomePaths,
  opts: { settleMs?: number } = {},
): Promise<SupervisorLock> {
  mkdirSync(home.run, { recursive: true, mode: 0o700 });
  chmodSync(home.run, 0o700);
  if (await socketAnswers(home.socket))
    throw running(readOwner(home.pidFile)?.pid ?? null, 'it answers on the control socket');
  const self = readProcStat(process.pid);
  const content = `${process.pid} ${self?.startTime ?? 0}\n`;
  const deadline = Date.now() + (opts.settleMs ?? OWNER_SETTLE_MS);
  for (;;) {
    try {
      writeFileSync(home.pidFile, content, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(home.pidFile);
    const stat = owner ? readProcStat(owner.pid) : null;
    if (owner && owner.pid !== process.pid && isLive(stat) && stat.startTime === owner.startTime) {
      // Alive: starting or dying. Wait for it to answer (refuse) or to be gone (take over).
      if (await socketAnswers(home.socket, 500)) throw running(owner.pid, 'it answers on the control socket');
      if (Date.now() >= deadline)
        throw running(
          owner.pid,
          `it holds ${home.pidFile} and has not answered on the control socket for ${Math.round((opts.settleMs ?? OWNER_SETTLE_MS) / 1000)} s (still starting?)`,
        );
      await sleep(50);
      continue;
    }
    if (Date.now() >= deadline) throw running(owner?.pid ?? null, `cannot take over ${home.pidFile}`);
    // Not moved (gone meanwhile, or not ours to move): pause before the next try.
    if (!takeOverStale(home.pidFile, owner)) await sleep(20);
  }
  // Nothing answers on the socket file, so it is a dead supervisor's: remove it to listen again.
  rmSync(home.socket, { force: true });
  return {
    release() {
      if (readOwner(home.pidFile)?.pid !== process.pid) return;
      rmSync(home.socket, { force: true });
      rmSync(home.pidFile, { force: true });
    },
  };
}

/**
 * Removes a dead owner's pid file without removing a fresh claim: two starters can find the same
 * stale file, and the slower one's plain rm would delete the faster one's new file (both would
 * then supervise). The file is moved aside atomically and, if what was moved is not the stale
 * claim that was read, put back (link fails if a third claim exists by then).
 */
function takeOverStale(pidFile: string, stale: { pid: number; startTime: number } | null): boolean {
  const aside = `${pidFile}.stale-${process.pid}`;
  try {
    renameSync(pidFile, aside);
  } catch {
    return false; // Gone already (another starter took it) or not movable; the next write decides.
  }
  const moved = readOwner(aside);
  if (moved && (moved.pid !== stale?.pid || moved.startTime !== stale.startTime)) {
    try {
      linkSync(aside, pidFile);
    } catch {
      // Someone else's claim is in place now.
    }
  }
  rmSync(aside, { force: true });
  return true;
}

function readOwner(file: string): { pid: number; startTime: number } | null {
  try {
    const [pid, startTime] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return pid && Number.isInteger(pid) ? { pid, startTime: startTime ?? 0 } : null;
  } catch {
    return null;
  }
}

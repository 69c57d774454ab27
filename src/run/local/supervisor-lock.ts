/**
 * One supervisor per home. The pid file is created exclusively and holds the owner's pid and
 * start time, so a pid file left by a killed supervisor (or a pid reused after a reboot) is
 * recognised as stale and taken over, while a supervisor that is still starting is respected.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { BrrError } from '../../core/errors.js';
import type { HomePaths } from '../../core/home.js';
import { isLive, readProcStat } from '../../core/proc.js';
import { withSocketAddress } from './socket-address.js';

export interface SupervisorLock {
  /** Removes the pid file and the socket, if they are still ours. */
  release(): void;
}

function running(pid: number | null): BrrError {
  return new BrrError(
    'supervisor_running',
    `a supervisor is already running for this home${pid ? ` (pid ${pid})` : ''}`,
    {
      hint: 'use it (brr ps, brr run) or stop it first with `brr shutdown`',
    },
  );
}

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

export async function acquireSupervisorLock(home: HomePaths): Promise<SupervisorLock> {
  mkdirSync(home.run, { recursive: true, mode: 0o700 });
  chmodSync(home.run, 0o700);
  if (await socketAnswers(home.socket)) throw running(readOwner(home.pidFile)?.pid ?? null);
  const self = readProcStat(process.pid);
  const content = `${process.pid} ${self?.startTime ?? 0}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(home.pidFile, content, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const owner = readOwner(home.pidFile);
      const stat = owner ? readProcStat(owner.pid) : null;
      if (owner && owner.pid !== process.pid && isLive(stat) && stat.startTime === owner.startTime)
        throw running(owner.pid);
      rmSync(home.pidFile, { force: true });
    }
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

function readOwner(file: string): { pid: number; startTime: number } | null {
  try {
    const [pid, startTime] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return pid && Number.isInteger(pid) ? { pid, startTime: startTime ?? 0 } : null;
  } catch {
    return null;
  }
}

import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import { conflict } from '../core/errors.js';
import { isPidAlive } from '../core/pid-alive.js';

/**
 * An exclusive lock between brr processes on one host: a lock file created with O_EXCL that
 * holds the owner's pid. A lock whose owner is dead (crash, kill -9) is broken, so a crash never
 * leaves the store locked forever.
 */

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
}

interface Owner {
  pid: number;
  host: string;
  token: string;
}

function parseOwner(text: string): Owner | null {
  const [pid, host, token] = text.split('\n');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !host || !token) return null;
  return { pid: n, host, token };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A half-written lock (owner crashed between create and write) counts as stale after this. */
const EMPTY_LOCK_STALE_MS = 5_000;

async function isStale(lockPath: string, text: string): Promise<boolean> {
  const owner = parseOwner(text);
  if (owner) return owner.host === os.hostname() && !isPidAlive(owner.pid);
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs > EMPTY_LOCK_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Breaks a stale lock without racing another breaker: the file is moved aside first and only
 * deleted if it is still the stale one we judged; a fresh lock moved by mistake is put back.
 */
async function breakStale(lockPath: string, judged: string, token: string): Promise<void> {
  const aside = `${lockPath}.stale-${token}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else broke or released it
  }
  const now = await readFile(aside, 'utf8').catch(() => '');
  if (now !== judged) await link(aside, lockPath).catch(() => {});
  await unlink(aside).catch(() => {});
}

async function acquire(lockPath: string, timeoutMs: number): Promise<string> {
  const token = randomBytes(8).toString('hex');
  const body = `${process.pid}\n${os.hostname()}\n${token}\n`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(body);
      } finally {
        await fh.close();
      }
      return body;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await readFile(lockPath, 'utf8').catch(() => null);
    if (text !== null && (await isStale(lockPath, text))) {
      await breakStale(lockPath, text, token);
      continue;
    }
    if (Date.now() > deadline) {
      const owner = text ? parseOwner(text) : null;
      throw conflict(
        'store_locked',
        `${lockPath} is held${owner ? ` by pid ${owner.pid} on ${owner.host}` : ''}`,
        `wait for that brr process to finish; if none is running, remove ${lockPath}`,
      );
    }
    await sleep(Math.min(50, 2 + attempt * 2) * (0.5 + Math.random()));
  }
}

/** Runs `fn` while holding the lock file `lockPath`. */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const body = await acquire(lockPath, opts.timeoutMs ?? 30_000);
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours (it could have been broken as stale meanwhile).
    if ((await readFile(lockPath, 'utf8').catch(() => null)) === body) await unlink(lockPath).catch(() => {});
  }
}

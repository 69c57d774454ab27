import { AsyncLocalStorage } from 'node:async_hooks';
import { BrrError } from '../core/errors.js';

/**
 * An in-process FIFO mutex. SQLite's own lock serializes *processes*, but better-sqlite3 waits
 * for it synchronously: a second writer in the same process would block the event loop that
 * the first writer needs to finish its (async) draft, and both would stall until busy_timeout.
 * So writers within one process queue here first, per database file.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private readonly holder = new AsyncLocalStorage<Mutex>();

  /** Runs `fn` alone. Calling `run` again from inside `fn` would wait forever, so it throws. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.holder.getStore() === this) {
      return Promise.reject(
        new BrrError('ledger_reentrant', 'a ledger write was started from inside another write of the same ledger', {
          hint: 'a draft callback may read the ledger but must not append to it; append after appendRelease returns',
        }),
      );
    }
    const result = this.tail.then(() => this.holder.run(this, fn));
    // The queue continues whether fn succeeded or failed; the caller still sees the failure.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every queued writer has finished. */
  async drain(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.tail;
      await seen;
    } while (seen !== this.tail);
  }
}

const byFile = new Map<string, { mutex: Mutex; users: number }>();

/** The mutex shared by every ledger handle on `key` (a resolved file path) in this process. */
export function acquireFileMutex(key: string): Mutex {
  const entry = byFile.get(key) ?? { mutex: new Mutex(), users: 0 };
  entry.users += 1;
  byFile.set(key, entry);
  return entry.mutex;
}

/** Drops one user of the file's mutex; the entry goes away with its last user. */
export function releaseFileMutex(key: string): void {
  const entry = byFile.get(key);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users <= 0) byFile.delete(key);
}

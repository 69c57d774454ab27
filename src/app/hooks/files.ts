/**
 * Where the webhooks keep their state in the brr home, and the one way they write it: private
 * (dirs 0700, files 0600) and atomic (a temporary file renamed over the old one), so a reader
 * never sees half a file and a crash never leaves one. hooks.json holds the secrets.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface HookFiles {
  /** `<home>/hooks.json`: the hooks, with their secrets. */
  hooks: string;
  /** `<home>/hooks/`: the dispatcher's state. */
  dir: string;
  /** `<home>/hooks/cursor.json`: how far the ledger has been read, and the deliveries still pending. */
  cursor: string;
  /** `<home>/hooks/deliveries.jsonl`: one line per delivery attempt. */
  deliveries: string;
  /** `<home>/hooks/dispatcher.lock`: one dispatcher per home. */
  lock: string;
}

export function hookFiles(home: string): HookFiles {
  const dir = path.join(home, 'hooks');
  return {
    hooks: path.join(home, 'hooks.json'),
    dir,
    cursor: path.join(dir, 'cursor.json'),
    deliveries: path.join(dir, 'deliveries.jsonl'),
    lock: path.join(dir, 'dispatcher.lock'),
  };
}

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Writes `text` to `file` 0600, atomically. */
export function writePrivateFile(file: string, text: string): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

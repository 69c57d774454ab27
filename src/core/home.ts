import { chmodSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where everything of one brr installation lives. One supervisor per home. */
export interface HomePaths {
  root: string;
  /** SQLite ledger (WAL). */
  ledger: string;
  /** OCI image layout: oci-layout, index.json, blobs/sha256/…  */
  oci: string;
  /** Materialized, read-only releases: releases/<app>/<id>/, plus releases/<app>/current → <id>. */
  releases: string;
  /** Process logs: logs/<app>/<type>.<index>.log (rotated to .1, .2 …). */
  logs: string;
  /** Build logs: build-logs/<commit>-<time>.log */
  buildLogs: string;
  /** Supervisor's socket, pid file and children file. */
  run: string;
  socket: string;
  pidFile: string;
  /** Scratch space on the same filesystem (atomic renames). */
  tmp: string;
}

/** Resolves the home: explicit flag, then BRR_HOME, then $XDG_DATA_HOME/brr, then ~/.local/share/brr. */
export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return path.resolve(flag);
  if (env.BRR_HOME) return path.resolve(env.BRR_HOME);
  const xdg = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'brr');
}

export function homePaths(root: string): HomePaths {
  const run = path.join(root, 'run');
  return {
    root,
    ledger: path.join(root, 'ledger.db'),
    oci: path.join(root, 'oci'),
    releases: path.join(root, 'releases'),
    logs: path.join(root, 'logs'),
    buildLogs: path.join(root, 'build-logs'),
    run,
    socket: path.join(run, 'supervisor.sock'),
    pidFile: path.join(run, 'supervisor.pid'),
    tmp: path.join(root, 'tmp'),
  };
}

/** Directories of a home: owner only, like the files in them (0600), which may hold config and process output. */
export const HOME_DIR_MODE = 0o700;
export const HOME_FILE_MODE = 0o600;

/**
 * Creates the home (and `dirs` in it) owner-only, whichever command comes first: `brr build`,
 * `brr run` or the supervisor. A home an older brr made 0755 is tightened when this user owns it,
 * since its logs and releases are readable through it otherwise.
 */
export function ensureHome(root: string, ...dirs: string[]): void {
  mkdirSync(root, { recursive: true, mode: HOME_DIR_MODE });
  const st = statSync(root);
  if ((st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid())
    chmodSync(root, HOME_DIR_MODE);
  for (const d of dirs) mkdirSync(d, { recursive: true, mode: HOME_DIR_MODE });
}

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

/**
 * `brr logs`: an app's process output from its log files in the home, prefixed with type and
 * index, either the last lines or followed until the caller aborts.
 */
import type { HomePaths } from '../core/home.js';
import { followLogs, tailLogs } from '../run/local/log-reader.js';

export interface LogsOptions {
  /** Only this process type. */
  processType?: string;
  /** Lines of history per process. */
  lines?: number;
}

/** The last lines of each process's log, grouped by process, oldest first. */
export function readAppLogs(
  paths: HomePaths,
  app: string,
  opts: LogsOptions = {},
): Promise<Array<{ source: string; line: string }>> {
  return tailLogs(paths.logs, app, opts);
}

/** The last lines, then every new line (across restarts and switches) until `signal` aborts. */
export function followAppLogs(
  paths: HomePaths,
  app: string,
  opts: LogsOptions & { onLine: (source: string, line: string) => void; signal: AbortSignal },
): Promise<void> {
  return followLogs(paths.logs, app, opts);
}

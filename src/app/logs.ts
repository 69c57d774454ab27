/**
 * `brr logs`: an app's process output from its log files in the home, prefixed with type and
 * index, either the last lines or followed until the caller aborts.
 */
import type { HomePaths } from '../core/home.js';
import { invalidInput } from '../core/errors.js';
import { followLogs, logFilesFor, tailLogs } from '../run/local/log-reader.js';

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
  assertProcessTypeKnown(paths, app, opts.processType);
  return tailLogs(paths.logs, app, opts);
}

/** `--process nope` is a typo to report, not an empty answer: the type must have output in the home. */
function assertProcessTypeKnown(paths: HomePaths, app: string, type: string | undefined): void {
  if (type === undefined || logFilesFor(paths.logs, app, type).length > 0) return;
  const types = [...new Set(logFilesFor(paths.logs, app).map((f) => /([^/]+)\.\d+\.log$/.exec(f)?.[1] ?? ''))];
  throw invalidInput(
    'process_type_unknown',
    `app ${app} has no output of a process type ${JSON.stringify(type)}`,
    types.length > 0
      ? `process types with output: ${types.join(', ')}`
      : `${app} has no process output yet: run it with \`brr run\``,
  );
}

/** The last lines, then every new line (across restarts and switches) until `signal` aborts. */
export function followAppLogs(
  paths: HomePaths,
  app: string,
  opts: LogsOptions & { onLine: (source: string, line: string) => void; signal: AbortSignal },
): Promise<void> {
  assertProcessTypeKnown(paths, app, opts.processType);
  return followLogs(paths.logs, app, opts);
}

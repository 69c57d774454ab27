import { runCommand, shellArgv, type RunCommandResult } from '../core/run-command.js';

/**
 * Runs one release-phase command: `sh -c` in its own process group (so stopping it stops what
 * it started, e.g. a migration tool's workers), output appended to a log file, the last lines
 * kept for the ledger and the error message. The executor is the shared `runCommand`; this file
 * owns what is particular to the release phase (private log, the footer line).
 *
 * It does not carry the supervisor's home marker: a supervisor restarting meanwhile would take
 * it for an orphaned app process and kill a migration half way.
 */

export interface ReleaseCommand {
  command: string;
  cwd: string;
  env: Record<string, string>;
  logFile: string;
  /** First line written to the log for this run (runs of one release append to one file). */
  header: string;
  tailLines: number;
  onLine?: (line: string) => void;
  /** Abort: SIGTERM to the group, SIGKILL after `killAfterMs`. */
  signal?: AbortSignal;
  killAfterMs?: number;
}

export type ReleaseCommandResult = RunCommandResult;

/** Runs the command to its end; a failure is reported in the result, never thrown. */
export function execReleaseCommand(cmd: ReleaseCommand): Promise<ReleaseCommandResult> {
  return runCommand({
    argv: shellArgv(cmd.command),
    cwd: cmd.cwd,
    env: cmd.env,
    logFile: cmd.logFile,
    logMode: 0o600, // the output may echo secrets from the config
    header: cmd.header,
    footer: (r) => `--- ${r.exitCode !== null ? `exit code ${r.exitCode}` : `ended by ${r.signal ?? r.error}`}`,
    tailLines: cmd.tailLines,
    onLine: cmd.onLine,
    processGroup: true,
    signal: cmd.signal,
    killAfterMs: cmd.killAfterMs,
  });
}

/**
 * A supervisor never exits without saying why (issue 10). Installed by `brr supervise` before
 * anything else runs (the ledger is opened after it): the first line names the pid, and every
 * way out that runs JavaScript — a return, `process.exit` anywhere, an uncaught exception, an
 * unhandled rejection, SIGHUP — writes a last line with the exit code and the reason. What is
 * left unlogged is what no process can log: SIGKILL (the OOM killer, `kill -9`) and a crash of
 * the runtime itself, which the next supervisor finds as a stale pid file.
 *
 * An uncaught exception ends the supervisor (exit 1) instead of being ignored: its state may be
 * broken, and the apps do not need it to keep serving — the next supervisor (systemd's restart,
 * or the next `brr run`) adopts them. Process-wide handlers, so only the CLI installs them; a
 * program that embeds `superviseHome` keeps its own.
 */
import { brrVersion } from '../../core/version.js';

/** Exit codes that the CLI's own signal handling produces (cli/main.ts) and what they mean. */
const EXIT_MEANING: Record<number, string> = { 129: 'SIGHUP', 130: 'SIGINT', 143: 'SIGTERM' };

export function installLastWords(log: (line: string) => void): void {
  const pid = process.pid;
  let reason: string | null = null;
  log(`supervisor pid ${pid} starting (brr ${brrVersion()}, Node ${process.version}, parent pid ${process.ppid})`);
  const fatal = (kind: string) => (e: unknown) => {
    reason ??= kind;
    log(`fatal: ${kind}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  // Default action: die without a word. The apps keep running and the next supervisor adopts them,
  // as after a SIGKILL; a graceful stop of everything is SIGTERM or `brr shutdown`.
  process.on('SIGHUP', () => {
    reason ??= 'SIGHUP';
    log('SIGHUP: exiting without stopping the apps (the next supervisor adopts them)');
    process.exit(129);
  });
  process.on('exit', (code) => {
    const why = reason ?? EXIT_MEANING[code] ?? (code === 0 ? 'stopped' : 'see the lines above');
    log(`supervisor pid ${pid} exiting with code ${code} (${why})`);
  });
}

/**
 * The local supervisor seen from the CLI: `brr ps` (its processes), `brr shutdown` (stop it) and
 * `brr supervise` (be it, in the foreground). Only this file and run-release.ts talk to the
 * supervisor's client for the CLI, so the CLI never reaches into run/.
 */
import { notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import { connectSupervisor } from '../run/local/client.js';
import type { SupervisorProblems } from '../run/local/supervisor.js';
import type { WriteFaults } from '../run/local/write-faults.js';
import type { ProcessInfo } from '../run/types.js';
import type { Context } from './context.js';
import { supervisorProblems } from './status.js';

export type { ProcessInfo, ProcessState } from '../run/types.js';

/** `brr ps`: processes under the supervisor (only `app`'s when given), or null when it is not running. */
export async function listProcesses(paths: HomePaths, app?: string): Promise<ProcessInfo[] | null> {
  return (await listProcessesAndProblems(paths, app))?.rows ?? null;
}

/** `brr ps` with what the supervisor reports beside the processes: failing writes and strays (of `app`, when given). */
export async function listProcessesAndProblems(
  paths: HomePaths,
  app?: string,
): Promise<{ rows: ProcessInfo[]; problems: SupervisorProblems | null; strays: SupervisorProblems['strays'] } | null> {
  const client = await connectSupervisor(paths);
  if (!client) return null;
  try {
    const rows = (await client.request('ps', app ? { app } : {})) as ProcessInfo[];
    const problems = await supervisorProblems(client);
    const strays = (problems?.strays ?? []).filter((s) => !app || s.app === app);
    return { rows, problems, strays };
  } finally {
    client.close();
  }
}

/**
 * `brr ps --app X` found no process: an app the ledger does not know is a typo and an error
 * (app_unknown, as for `brr verify --app`, naming the apps it knows); a known app simply runs nothing now.
 */
export async function explainNoProcesses(ctx: Context, app: string): Promise<string> {
  const known = await ctx.ledger.listApps();
  if (!known.includes(app))
    throw notFound(
      'app_unknown',
      `no app ${JSON.stringify(app)} in the ledger`,
      known.length > 0
        ? `apps in this ledger: ${known.join(', ')}`
        : 'this ledger holds no app yet; check --home / --ledger',
    );
  return `${app} runs no processes`;
}

/**
 * The secrets key id of the running supervisor: undefined when none runs (the one `brr run`
 * starts inherits this command's settings) or when it is too old to say; null when it has none.
 */
export async function supervisorSecretsKeyId(paths: HomePaths): Promise<string | null | undefined> {
  const client = await connectSupervisor(paths);
  if (!client) return undefined;
  try {
    const pong = (await client.request('ping')) as { secretsKeyId?: string | null };
    return pong.secretsKeyId;
  } finally {
    client.close();
  }
}

/** `brr shutdown`: stops the supervisor and its processes gracefully; false when none was running. */
export async function stopSupervisor(paths: HomePaths): Promise<boolean> {
  const client = await connectSupervisor(paths);
  if (!client) return false;
  try {
    await client.request('shutdown', {});
  } finally {
    client.close();
  }
  return true;
}

/** Where a supervisor logs, and the writes it could not make (reported by `brr ps`). */
export interface SupervisorLog {
  log(line: string): void;
  writeFaults: WriteFaults;
}

/**
 * The log of `brr supervise` on file descriptor `logFd` (stderr: usually supervisor.log), through
 * a writer that never throws: a full disk must cost log lines, never the supervisor. With
 * `lastWords` (the CLI), every exit of this process says why in it (run/local/last-words.ts);
 * the handlers are process-wide, so an embedding program leaves it off.
 */
export async function openSupervisorLog(logFd = 2, opts: { lastWords?: boolean } = {}): Promise<SupervisorLog> {
  const [{ fdLineLogger, WriteFaults }, { installLastWords }] = await Promise.all([
    import('../run/local/write-faults.js'),
    import('../run/local/last-words.js'),
  ]);
  const writeFaults = new WriteFaults();
  const log = fdLineLogger(logFd, writeFaults, 'supervisor log (stderr)');
  if (opts.lastWords) installLastWords(log);
  return { log, writeFaults };
}

/**
 * `brr supervise`: runs the supervisor in the foreground until it is shut down. It logs to
 * `logFd` (see openSupervisorLog) or to a log already opened; a failure to start or to run is
 * logged there before it is thrown.
 */
export async function superviseHome(ctx: Context, logTo: number | SupervisorLog = 2): Promise<void> {
  // The supervisor's code is loaded only to supervise: `brr ps` and `brr shutdown` are clients.
  const [{ runSupervisor }, { supervisorDeps }] = await Promise.all([
    import('../run/local/supervisor.js'),
    import('./supervisor-deps.js'),
  ]);
  const { log, writeFaults } = typeof logTo === 'number' ? await openSupervisorLog(logTo) : logTo;
  // The supervisor always runs on a home that deploys locally: it delivers the webhooks too,
  // unless `brr serve` already does (one dispatcher per home, by lock). Off the switch path:
  // a dead receiver costs the dispatcher retries, never a deploy its time.
  const { startHookDispatcher } = await import('./hooks/dispatch.js');
  const stopHooks = startHookDispatcher(ctx, log);
  try {
    await runSupervisor(supervisorDeps(ctx, log), { writeFaults });
  } catch (e) {
    log(`supervisor failed: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  } finally {
    await stopHooks();
  }
}

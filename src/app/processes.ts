/**
 * The local supervisor seen from the CLI: `brr ps` (its processes), `brr shutdown` (stop it) and
 * `brr supervise` (be it, in the foreground). Only this file and run-release.ts talk to the
 * supervisor's client for the CLI, so the CLI never reaches into run/.
 */
import type { HomePaths } from '../core/home.js';
import { connectSupervisor } from '../run/local/client.js';
import type { ProcessInfo } from '../run/types.js';
import type { Context } from './context.js';

export type { ProcessInfo, ProcessState } from '../run/types.js';

/** `brr ps`: processes under the supervisor (only `app`'s when given), or null when it is not running. */
export async function listProcesses(paths: HomePaths, app?: string): Promise<ProcessInfo[] | null> {
  const client = await connectSupervisor(paths);
  if (!client) return null;
  try {
    return (await client.request('ps', app ? { app } : {})) as ProcessInfo[];
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

/** `brr supervise`: runs the supervisor for the context's home until it is shut down. */
export async function superviseHome(ctx: Context, log: (line: string) => void): Promise<void> {
  // The supervisor's code is loaded only to supervise: `brr ps` and `brr shutdown` are clients.
  const [{ runSupervisor }, { supervisorDeps }] = await Promise.all([
    import('../run/local/supervisor.js'),
    import('./supervisor-deps.js'),
  ]);
  await runSupervisor(supervisorDeps(ctx, log));
}

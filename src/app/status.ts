import { connectSupervisor, type SupervisorClient } from '../run/local/client.js';
import type { SupervisorProblems } from '../run/local/supervisor.js';
import { appTarget } from './app-target.js';
import { WitnessedLedger } from '../ledger/witnessed-ledger.js';
import type { Context } from './context.js';
import { currentReleaseOf } from './current-release.js';

/** What the supervisor reports for one app (its `status` op). */
export interface RunningApp {
  app: string;
  release: string | null;
  releaseHash: string | null;
  allUp: boolean;
  /** Every process passed its health check (or stayed up for upFor without one). */
  allHealthy: boolean;
  switchingTo: string | null;
}

export interface AppStatus {
  app: string;
  /** The ledger's current release (what should run). */
  ledger: string | null;
  /** What the supervisor runs. */
  running: string | null;
  inSync: boolean;
  problem: string | null;
  /** Supervisor-wide conditions that do not change what runs (a write failing: disk full). */
  warnings?: string[];
}

/** The supervisor's `problems` answer; an older supervisor without the op reports none. */
export async function supervisorProblems(client: SupervisorClient): Promise<SupervisorProblems | null> {
  try {
    return await client.request<SupervisorProblems>('problems', {});
  } catch {
    return null;
  }
}

/** One line per failing write, for `brr ps` and `brr status`. */
export function describeWriteFaults(p: SupervisorProblems | null): string[] {
  return (p?.writeFaults ?? []).map(
    (f) => `supervisor cannot write ${f.path} (${f.code} since ${f.since}, ${f.failures} failure(s)); retrying`,
  );
}

/** Pure: compare the record with reality. */
export function compareStatus(
  app: string,
  ledger: string | null,
  ledgerHash: string | null,
  running: RunningApp | undefined,
  supervisorUp: boolean,
): AppStatus {
  const base = { app, ledger, running: running?.release ?? null };
  if (ledger === null && !running) return { ...base, inSync: true, problem: null };
  if (!supervisorUp) return { ...base, inSync: false, problem: 'supervisor not running' };
  if (!running || running.release === null) return { ...base, inSync: false, problem: 'not running' };
  if (ledger !== running.release) return { ...base, inSync: false, problem: `ledger says ${ledger ?? 'nothing'}` };
  if (ledgerHash !== null && running.releaseHash !== ledgerHash)
    return { ...base, inSync: false, problem: 'release hash differs from the ledger' };
  if (!running.allUp) return { ...base, inSync: false, problem: 'processes down' };
  if (!running.allHealthy) return { ...base, inSync: false, problem: 'processes not healthy' };
  return { ...base, inSync: true, problem: null };
}

/** `brr status`: per app, the ledger's current release against what the supervisor runs. */
export async function appStatus(ctx: Context, onlyApp?: string): Promise<AppStatus[]> {
  const client = await connectSupervisor(ctx.paths);
  let running: RunningApp[] = [];
  let problems: SupervisorProblems | null = null;
  if (client) {
    try {
      running = (await client.request('status', {})) as RunningApp[];
      problems = await supervisorProblems(client);
    } finally {
      client.close();
    }
  }
  const witness = ctx.ledger instanceof WitnessedLedger ? ctx.ledger : null;
  const apps = new Set([
    ...(await ctx.ledger.listApps()),
    ...running.map((r) => r.app),
    ...(witness?.witnessedApps() ?? []),
  ]);
  const rows: AppStatus[] = [];
  for (const app of [...apps].sort()) {
    if (onlyApp && app !== onlyApp) continue;
    // A ledger that lost history this home witnessed is never "in sync", whatever runs.
    const lost = (await witness?.witnessProblems(app))?.[0];
    if (lost) {
      const id = await currentReleaseOf(ctx.ledger, app);
      const r = running.find((x) => x.app === app)?.release ?? null;
      rows.push({ app, ledger: id, running: r, inSync: false, problem: `ledger lost history: ${lost.problem}` });
      continue;
    }
    const target = await appTarget(ctx, app);
    // Kubernetes apps: compare with the live pods, not the supervisor.
    if (target.target === 'kubernetes') {
      // Loaded only here: the Kubernetes code is not paid for by local apps (issue 13).
      const { kubernetesStatus } = await import('./kubernetes-status.js');
      rows.push(await kubernetesStatus(ctx, app, target));
      continue;
    }
    const id = await currentReleaseOf(ctx.ledger, app);
    const rel = id ? await ctx.ledger.getRelease(app, id) : null;
    const row = compareStatus(
      app,
      id,
      rel?.hash ?? null,
      running.find((r) => r.app === app),
      client !== null,
    );
    // A stray still serves (or holds a port) with code the ledger no longer names.
    const strays = (problems?.strays ?? []).filter((s) => s.app === app);
    if (strays.length > 0 && row.inSync)
      Object.assign(row, {
        inSync: false,
        problem: `${strays.length} stray process(es) (pid ${strays.map((s) => `${s.pid} of ${s.release ?? '?'}`).join(', ')})`,
      });
    const warnings = describeWriteFaults(problems);
    rows.push(warnings.length > 0 ? { ...row, warnings } : row);
  }
  return rows;
}

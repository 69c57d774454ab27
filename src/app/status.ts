import { currentReleaseId } from '../release/state.js';
import { connectSupervisor } from '../run/local/client.js';
import { currentTarget } from './app-target.js';
import { WitnessedLedger } from '../ledger/witnessed-ledger.js';
import type { Context } from './context.js';

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
  if (client) {
    try {
      running = (await client.request('status', {})) as RunningApp[];
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
      const id = currentReleaseId(await ctx.ledger.listEvents(app));
      const r = running.find((x) => x.app === app)?.release ?? null;
      rows.push({ app, ledger: id, running: r, inSync: false, problem: `ledger lost history: ${lost.problem}` });
      continue;
    }
    const events = await ctx.ledger.listEvents(app);
    const target = currentTarget(events);
    // Kubernetes apps: compare with the live pods, not the supervisor.
    if (target.target === 'kubernetes') {
      // Loaded only here: the Kubernetes code is not paid for by local apps (issue 13).
      const { kubernetesStatus } = await import('./kubernetes-status.js');
      rows.push(await kubernetesStatus(ctx, app, target));
      continue;
    }
    const id = currentReleaseId(events);
    const rel = id ? await ctx.ledger.getRelease(app, id) : null;
    rows.push(
      compareStatus(
        app,
        id,
        rel?.hash ?? null,
        running.find((r) => r.app === app),
        client !== null,
      ),
    );
  }
  return rows;
}

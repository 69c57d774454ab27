/**
 * What runs per app: the current release's processes, a switch in flight and old runs still
 * draining. `ps` and `status` read it; only `switchRelease` changes it.
 */
import type { ProcessInfo } from '../types.js';
import type { ReleaseRun } from './release-run.js';

export interface AppState {
  app: string;
  /** The release that serves (activated, or resumed). */
  current: ReleaseRun | null;
  /** The switch in flight, if any: one per app at a time. */
  switching: { release: string; abort: AbortController; done: Promise<unknown> } | null;
  /** The new release's processes while a switch gates them on health. */
  starting: ReleaseRun | null;
  /** Old releases stopping after a switch, or new ones stopping after a failed one. */
  draining: Set<ReleaseRun>;
}

/** One line of `status`: record (the release) next to reality (its processes). */
export interface AppStatus {
  app: string;
  release: string | null;
  releaseHash: string | null;
  processes: number;
  /** Processes with a pid now. */
  up: number;
  healthy: number;
  allUp: boolean;
  allHealthy: boolean;
  switchingTo: string | null;
}

export class AppTable {
  private readonly apps = new Map<string, AppState>();

  get(app: string): AppState {
    let s = this.apps.get(app);
    if (!s) {
      s = { app, current: null, switching: null, starting: null, draining: new Set() };
      this.apps.set(app, s);
    }
    return s;
  }

  all(): AppState[] {
    return [...this.apps.values()].sort((a, b) => a.app.localeCompare(b.app));
  }

  /** Instance ids of every process the supervisor runs now (current, starting, draining). */
  instances(): Set<string> {
    const out = new Set<string>();
    for (const s of this.all())
      for (const r of [s.current, s.starting, ...s.draining]) for (const id of r?.instances() ?? []) out.add(id);
    return out;
  }

  /** Every process of one app or all apps: current, starting, then draining. */
  ps(app?: string): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (const s of this.all()) {
      if (app !== undefined && s.app !== app) continue;
      if (s.current) out.push(...s.current.info());
      if (s.starting) out.push(...s.starting.info());
      for (const r of s.draining) out.push(...r.info());
    }
    return out;
  }

  status(app?: string): AppStatus[] {
    return this.all()
      .filter((s) => (app === undefined || s.app === app) && (s.current !== null || s.switching !== null))
      .map((s) => {
        const procs = s.current?.info() ?? [];
        const up = procs.filter((p) => p.pid !== null).length;
        const healthy = procs.filter((p) => p.state === 'healthy').length;
        return {
          app: s.app,
          release: s.current?.spec.release ?? null,
          releaseHash: s.current?.spec.releaseHash ?? null,
          processes: procs.length,
          up,
          healthy,
          allUp: s.current !== null && up === procs.length,
          allHealthy: s.current !== null && healthy === procs.length,
          switchingTo: s.switching?.release ?? null,
        };
      });
  }
}

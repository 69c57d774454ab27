/**
 * Strays: processes that carry this home's marker (or sit in one of its instance cgroups) but
 * belong to no process the supervisor owns — a daemonizing child that outlived its release, an
 * orphan a killed supervisor left. `brr ps` and `brr status` report them (status is then not in
 * sync) and shutdown stops them. Finding them is separate from stopping them so that reports
 * never signal anything.
 */
import type { Containment } from './containment.js';
import { cgroupProcs, environValue, INSTANCE_VAR, listInstanceCgroups, readEnviron } from './containment.js';
import { HOME_MARKER_VAR } from './launch-plan.js';
import { isLive, listProcesses } from '../../core/proc.js';

/** Marks the fd-holding helper, which carries the home marker but is no app process. */
export const ROLE_VAR = 'BRR_ROLE';

export interface Stray {
  pid: number;
  app: string | null;
  release: string | null;
  instance: string | null;
  /** How it was found. */
  via: 'marker' | 'cgroup';
}

/** Every live stray of `homeRoot`; `owned` are the instance ids of the processes the supervisor runs. */
export function findStrays(homeRoot: string, owned: Set<string>, containment: Containment): Stray[] {
  const want = `${HOME_MARKER_VAR}=${homeRoot}`;
  const out = new Map<number, Stray>();
  for (const p of listProcesses()) {
    if (!isLive(p) || p.pid === process.pid) continue;
    const env = readEnviron(p.pid);
    if (!env.includes(want) || environValue(env, ROLE_VAR) !== null) continue;
    const instance = environValue(env, INSTANCE_VAR);
    if (instance !== null && owned.has(instance)) continue;
    out.set(p.pid, {
      pid: p.pid,
      app: environValue(env, 'BRR_APP'),
      release: environValue(env, 'BRR_RELEASE'),
      instance,
      via: 'marker',
    });
  }
  for (const [instance, dir] of listInstanceCgroups(containment)) {
    if (owned.has(instance)) continue;
    for (const pid of cgroupProcs(dir)) {
      if (out.has(pid) || pid === process.pid) continue;
      const [app, release] = instance.split('.');
      out.set(pid, { pid, app: app ?? null, release: release ?? null, instance, via: 'cgroup' });
    }
  }
  return [...out.values()].sort((a, b) => a.pid - b.pid);
}

/** SIGKILLs the strays given (shutdown, start-up). */
export function killStrays(strays: Stray[]): void {
  for (const s of strays) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stopping children left behind by a supervisor that was killed (SIGKILL, OOM, a crash). They
 * still hold the shared sockets and would answer with an old release, so they must be gone
 * before the new supervisor binds anything. Planning is pure; `killOrphans` does the signals.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildEntry } from './children-file.js';
import { hasEnvEntry, isLive, listProcesses, liveGroupMembers, signalGroup, type ProcStat } from '../../core/proc.js';

export interface OrphanGroup {
  pgid: number;
  graceMs: number;
  /** Why it is ours: recorded in children.json, or carrying the home's marker variable. */
  source: 'children-file' | 'marker';
}

/** Grace for a marker-only group (no recorded grace). */
const MARKER_GRACE_MS = 2_000;

/**
 * Which process groups to stop. A recorded child counts only when its start time still matches
 * (the pid may have been reused by an unrelated process). If the leader is gone but the group
 * still has members, the group is still ours: Linux does not reuse a pid while a group carries
 * its number. `marked` are pids whose environment carries this home's marker: they catch a child
 * spawned in the instant before children.json was written.
 */
export function planOrphanGroups(
  entries: ChildEntry[],
  procs: ProcStat[],
  marked: number[],
  self: { pid: number; pgrp: number },
  keep: Set<number> = new Set(),
): OrphanGroup[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const groups = new Map<number, OrphanGroup>();
  const add = (g: OrphanGroup): void => {
    // `keep`: processes (and the groups they lead) adopted by this supervisor.
    if (g.pgid <= 1 || g.pgid === self.pgrp || g.pgid === self.pid || keep.has(g.pgid)) return;
    if (!groups.has(g.pgid)) groups.set(g.pgid, g);
  };
  for (const e of entries) {
    const leader = byPid.get(e.pid);
    const members = procs.filter((p) => p.pgrp === e.pgid && isLive(p));
    if (leader && leader.startTime !== e.startTime) continue;
    if (members.length === 0) continue;
    if (!leader && members.some((m) => m.startTime < e.startTime)) continue;
    add({ pgid: e.pgid, graceMs: e.graceMs, source: 'children-file' });
  }
  for (const pid of marked) {
    if (keep.has(pid)) continue;
    const p = byPid.get(pid);
    if (p && isLive(p) && p.pid !== self.pid) add({ pgid: p.pgrp, graceMs: MARKER_GRACE_MS, source: 'marker' });
  }
  return [...groups.values()];
}

export interface KillOrphansOptions {
  /** Longest wait after SIGTERM before SIGKILL, whatever the recorded grace. */
  graceCapMs: number;
  log(line: string): void;
  /** Pids adopted by the new supervisor (with their descendants): never stopped here. */
  keep?: Set<number>;
}

/**
 * Finds and stops the orphans of a previous supervisor of this home: SIGTERM to each group,
 * a short wait, SIGKILL, then waits until no live member remains (zombies hold no sockets).
 * Returns the groups that were stopped.
 */
export async function killOrphans(
  entries: ChildEntry[],
  markerEntry: string,
  opts: KillOrphansOptions,
): Promise<OrphanGroup[]> {
  const procs = listProcesses();
  const marked = procs
    .filter((p) => p.pid !== process.pid && isLive(p) && hasEnvEntry(p.pid, markerEntry))
    .map((p) => p.pid);
  const self = { pid: process.pid, pgrp: procs.find((p) => p.pid === process.pid)?.pgrp ?? process.pid };
  const groups = planOrphanGroups(entries, procs, marked, self, opts.keep);
  if (groups.length === 0) return [];
  opts.log(
    `stopping ${groups.length} orphaned process group(s) left by a previous supervisor: ${groups.map((g) => g.pgid).join(', ')}`,
  );
  for (const g of groups) signalGroup(g.pgid, 'SIGTERM');
  const grace = Math.min(opts.graceCapMs, Math.max(...groups.map((g) => g.graceMs)));
  await waitGroupsGone(groups, grace);
  const left = groups.filter((g) => liveGroupMembers(g.pgid).length > 0);
  for (const g of left) signalGroup(g.pgid, 'SIGKILL');
  if (!(await waitGroupsGone(left, 5_000))) {
    opts.log(`warning: process groups ${left.map((g) => g.pgid).join(', ')} survived SIGKILL`);
  }
  return groups;
}

async function waitGroupsGone(groups: OrphanGroup[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const procs = listProcesses();
    if (groups.every((g) => liveGroupMembers(g.pgid, procs).length === 0)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/**
 * Keeping every process a release started, descendants included, where the supervisor can stop
 * it. A process group is not enough: a child that calls `setsid` or double-forks leaves it and
 * would keep the port and serve old code after a switch or a shutdown.
 *
 * Each incarnation of a process is an "instance" with an id. Where a cgroup v2 hierarchy is
 * writable (root, or a delegated subtree), the instance gets a cgroup of its own under
 * `<cgroup2 mount>/brr-<hash of home>/` and the launching shell moves itself into it before it
 * execs the app, so nothing it forks can be outside; it is stopped with `cgroup.kill`. Otherwise
 * the instance id is only an environment marker (BRR_INSTANCE) that descendants inherit, found
 * by scanning /proc/<pid>/environ: it misses a descendant that clears its environment, which is
 * why the cgroup is preferred.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLive, listProcesses, readProcStat } from '../../core/proc.js';

/** Names one incarnation of one process; inherited by everything it starts. */
export const INSTANCE_VAR = 'BRR_INSTANCE';

export interface Containment {
  /** This home's cgroup directory, or null when only the environment marker is available. */
  cgroupRoot: string | null;
  mechanism: 'cgroup' | 'marker';
  /** Why there is no cgroup (for the log). */
  reason: string | null;
}

/** Where the cgroup v2 hierarchy is mounted (the `unified` mount on a hybrid v1/v2 host). */
export function cgroup2Mount(mountinfo = readText('/proc/self/mountinfo')): string | null {
  for (const line of mountinfo.split('\n')) {
    // Fields: id parent major:minor root mountpoint options [optional…] - fstype source superopts
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    if (line.slice(sep + 3).split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return null;
}

/** Sets up this home's cgroup directory if the machine allows it; never throws. */
export function openContainment(homeRoot: string): Containment {
  if (process.env.BRR_CONTAINMENT === 'marker')
    return { cgroupRoot: null, mechanism: 'marker', reason: 'BRR_CONTAINMENT=marker' };
  const mount = cgroup2Mount();
  if (!mount) return { cgroupRoot: null, mechanism: 'marker', reason: 'no cgroup v2 hierarchy is mounted' };
  const root = path.join(mount, `brr-${createHash('sha256').update(homeRoot).digest('hex').slice(0, 16)}`);
  try {
    mkdirSync(root, { recursive: true });
    // Moving a process needs write access to cgroup.procs of the source's and target's common ancestor.
    accessSync(path.join(root, 'cgroup.procs'), constants.W_OK);
    accessSync(path.join(mount, 'cgroup.procs'), constants.W_OK);
    return { cgroupRoot: root, mechanism: 'cgroup', reason: null };
  } catch (e) {
    return {
      cgroupRoot: null,
      mechanism: 'marker',
      reason: `cannot use ${root}: ${(e as { code?: string }).code ?? String(e)}`,
    };
  }
}

/** A fresh instance id: readable in `ps`, safe as a directory name and in a shell word. */
export function newInstanceId(app: string, release: string, type: string, index: number): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${safe(app)}.${safe(release)}.${safe(type)}.${index}.${randomBytes(4).toString('hex')}`;
}

/** Creates the instance's cgroup; null when containment is by marker only or mkdir fails. */
export function createInstanceCgroup(c: Containment, instance: string): string | null {
  if (!c.cgroupRoot) return null;
  const dir = path.join(c.cgroupRoot, instance);
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return null;
  }
}

/**
 * The words put before the app's command in `/bin/sh -c`: the shell moves itself into the
 * cgroup first, so the app and all it forks start inside it. If the move fails the app still
 * starts (the marker then covers it).
 */
export function joinCgroupScript(cgroupDir: string | null): string {
  if (!cgroupDir) return '';
  return `echo $$ > '${cgroupDir.replace(/'/g, `'\\''`)}/cgroup.procs' 2>/dev/null;`;
}

/**
 * Live pids of an instance: its cgroup's members when it has a cgroup (nothing it starts can be
 * outside), else the carriers of its marker (a scan of every process's environment: slower).
 */
export function instanceMembers(instance: string, cgroupDir: string | null | undefined): number[] {
  const pids = new Set<number>();
  if (cgroupDir && existsSync(path.join(cgroupDir, 'cgroup.procs')))
    for (const pid of cgroupProcs(cgroupDir)) pids.add(pid);
  else for (const pid of markedPids(`${INSTANCE_VAR}=${instance}`)) pids.add(pid);
  pids.delete(process.pid);
  return [...pids].filter((p) => isLive(readProcStat(p)));
}

/**
 * Sends `signal` to every member of the instance (cgroup.kill for SIGKILL where there is one).
 * Members of `exceptGroup` are skipped: they got it through their process group already, and a
 * second SIGTERM would run an app's drain handler twice (the sample app then exits at once).
 */
export function signalInstance(
  instance: string,
  cgroupDir: string | null | undefined,
  signal: NodeJS.Signals,
  exceptGroup?: number,
): number {
  if (signal === 'SIGKILL' && cgroupDir && existsSync(path.join(cgroupDir, 'cgroup.kill'))) {
    try {
      writeFileSync(path.join(cgroupDir, 'cgroup.kill'), '1');
      return cgroupProcs(cgroupDir).length;
    } catch {
      // Fall through to per-pid signals.
    }
  }
  const members = instanceMembers(instance, cgroupDir).filter(
    (pid) => exceptGroup === undefined || readProcStat(pid)?.pgrp !== exceptGroup,
  );
  for (const pid of members) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
  return members.length;
}

/**
 * Waits up to `graceMs` for every member to exit, then SIGKILLs what is left and waits for that
 * (bounded). Removes the cgroup. Returns the pids that had to be killed.
 */
export async function reapInstance(
  instance: string,
  cgroupDir: string | null | undefined,
  graceMs: number,
): Promise<number[]> {
  const deadline = Date.now() + graceMs;
  let left = instanceMembers(instance, cgroupDir);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    left = instanceMembers(instance, cgroupDir);
  }
  const killed = left;
  for (let i = 0; i < 100 && left.length > 0; i++) {
    signalInstance(instance, cgroupDir, 'SIGKILL');
    await sleep(20);
    left = instanceMembers(instance, cgroupDir);
  }
  removeCgroup(cgroupDir);
  return killed;
}

export function removeCgroup(dir: string | null | undefined): void {
  if (!dir) return;
  try {
    rmdirSync(dir);
  } catch {
    // Still populated (a zombie not yet reaped) or gone: a later sweep retries.
  }
}

/** Instance cgroups under this home's root, by name (instance id). */
export function listInstanceCgroups(c: Containment): Map<string, string> {
  const out = new Map<string, string>();
  if (!c.cgroupRoot) return out;
  try {
    for (const e of readdirSync(c.cgroupRoot, { withFileTypes: true }))
      if (e.isDirectory()) out.set(e.name, path.join(c.cgroupRoot, e.name));
  } catch {
    // The root vanished (someone removed it): nothing to list.
  }
  return out;
}

export function cgroupProcs(dir: string): number[] {
  return readText(path.join(dir, 'cgroup.procs'))
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Pids whose initial environment holds `entry` (KEY=value) exactly. */
export function markedPids(entry: string): number[] {
  const want = Buffer.from(entry, 'utf8').toString('latin1');
  const out: number[] = [];
  for (const p of listProcesses()) {
    if (!isLive(p) || p.pid === process.pid) continue;
    if (readEnviron(p.pid).includes(want)) out.push(p.pid);
  }
  return out;
}

/** A process's initial environment as KEY=value strings (latin1, so any bytes decode). */
export function readEnviron(pid: number): string[] {
  return readText(`/proc/${pid}/environ`, 'latin1').split('\0');
}

/** The value of `key` in a process's initial environment, or null. */
export function environValue(env: string[], key: string): string | null {
  const prefix = `${key}=`;
  const hit = env.find((e) => e.startsWith(prefix));
  return hit === undefined ? null : hit.slice(prefix.length);
}

function readText(file: string, enc: BufferEncoding = 'utf8'): string {
  try {
    return readFileSync(file, enc);
  } catch {
    return '';
  }
}

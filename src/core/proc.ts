/**
 * Reading Linux's /proc: enough to tell whether a recorded pid is still the process we started
 * (its start time, field 22 of /proc/<pid>/stat, changes when a pid is reused) and which
 * processes are in a process group.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** One-letter state; 'Z' (zombie) and 'X' (dead) hold no files and run no code. */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks since boot at which the process started. */
  startTime: number;
}

/** Parses the text of /proc/<pid>/stat. The command name may hold spaces and ')', so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name start at field 3 (state); field n is at index n - 3.
  const f = text.slice(close + 2).split(' ');
  const startTime = Number(f[22 - 3]);
  if (!Number.isInteger(pid) || !Number.isFinite(startTime)) return null;
  return { pid, state: f[0] ?? '?', ppid: Number(f[1]), pgrp: Number(f[2]), startTime };
}

export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** USER_HZ: the unit of a start time in /proc/<pid>/stat; 100 on every Linux architecture. */
const CLOCK_TICKS_PER_S = 100;

/**
 * How long ago a process with this start time (clock ticks since boot) started, from
 * /proc/uptime; null without /proc. What an adopted process's uptime is, not the adoption's.
 */
export function ageOfStartMs(startTime: number): number | null {
  try {
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    if (!Number.isFinite(uptimeS)) return null;
    return Math.max(0, Math.round(uptimeS * 1000 - (startTime * 1000) / CLOCK_TICKS_PER_S));
  } catch {
    return null;
  }
}

/** True when the process exists and is not a zombie. */
export function isLive(stat: ProcStat | null): stat is ProcStat {
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** Every process visible in /proc (a snapshot; processes come and go while it is read). */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readProcStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** Whether the process's initial environment holds `KEY=value` exactly. Unreadable → false. */
export function hasEnvEntry(pid: number, entry: string): boolean {
  try {
    // Compare bytes (as latin1 text) so a non-UTF-8 environment cannot break decoding.
    const want = Buffer.from(entry, 'utf8').toString('latin1');
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(want);
  } catch {
    return false;
  }
}

/** Live (non-zombie) members of a process group. */
export function liveGroupMembers(pgid: number, procs: ProcStat[] = listProcesses()): ProcStat[] {
  return procs.filter((p) => p.pgrp === pgid && isLive(p));
}

/** Sends a signal to a process group, ignoring "no such process". */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

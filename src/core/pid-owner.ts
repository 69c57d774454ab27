/**
 * Whether a pid recorded earlier (a lease holder, the owner of a build's temp directory) still
 * names the same running process. A live pid is not enough: pids are reused, so a process that
 * started after the thing it supposedly owns was created cannot be its owner. Start times come
 * from /proc (field 22 of /proc/<pid>/stat plus the boot time); without /proc only liveness can
 * be told.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isPidAlive } from './pid-alive.js';
import { isLive, readProcStat } from './proc.js';

/**
 * Slack when comparing a process's start with the time something was created: the boot time
 * /proc gives is whole seconds, and clocks differ by a little. A pid reused within this window
 * is not worth guarding against.
 */
const START_SLACK_MS = 2_000;
/** USER_HZ: the unit of /proc/<pid>/stat's start time; 100 on every Linux architecture. */
const CLOCK_TICKS_PER_S = 100;

let bootTimeMs: number | null | undefined;
/** Boot time from /proc/stat (`btime`, whole seconds since the epoch), in ms; null without /proc. */
function bootTime(): number | null {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTimeMs = m ? Number(m[1]) * 1000 : null;
  } catch {
    bootTimeMs = null;
  }
  return bootTimeMs;
}

/**
 * True when `pid` runs on this host and started no later than `sinceMs` (ms since the epoch,
 * when the owned thing was created): then it can be the owner. This process always counts.
 */
export function pidRunsSince(pid: number, sinceMs: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  if (!existsSync('/proc/self/stat')) return isPidAlive(pid);
  const stat = readProcStat(pid);
  if (!isLive(stat)) return false;
  const boot = bootTime();
  if (boot === null || !Number.isFinite(sinceMs)) return true;
  return boot + (stat.startTime * 1000) / CLOCK_TICKS_PER_S <= sinceMs + START_SLACK_MS;
}

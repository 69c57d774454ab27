/**
 * Whether a process id runs on this host: the one liveness probe behind stale-lock breaking and
 * `brr lock`'s holder check. A hint, not proof: pids are reused.
 */

/** True when `pid` exists here, including under another user (EPERM); signal 0 sends nothing. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

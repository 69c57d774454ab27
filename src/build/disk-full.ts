/**
 * Out of space while building or packaging. ENOSPC (disk full) and EDQUOT (quota exceeded) are
 * not bugs in brr but a state of the machine the user can fix, so they become one BrrError
 * (`disk_full`) that names where the write failed, about how much space the build needs and how
 * much is free there, and what to do. The estimate is what the build had written so far plus
 * its output once more (the layer packs the output, and random-looking data does not shrink).
 */
import { lstat, readdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';

/** Whether `e` is a failed write for lack of space (or quota). */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Bytes of the files under `p` (0 when it does not exist); symlinks are not followed. */
export async function treeBytes(p: string): Promise<number> {
  const st = await lstat(p).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let n = 0;
  for (const d of await readdir(p).catch(() => [] as string[])) n += await treeBytes(path.join(p, d));
  return n;
}

/** Free bytes for an unprivileged writer on the filesystem holding `p`; null when it cannot be told. */
async function freeBytes(p: string): Promise<number | null> {
  for (let dir = p; ; dir = path.dirname(dir)) {
    const s = await statfs(dir).catch(() => null);
    if (s) return s.bavail * s.bsize;
    if (path.dirname(dir) === dir) return null;
  }
}

async function sameDevice(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => null), stat(path.dirname(b)).catch(() => null)]);
  return sa !== null && sb !== null && sa.dev === sb.dev;
}

/** `12.3 MB`: sizes as people read them in an error. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Pure: the error for a build that ran out of space. */
export function diskFullMessage(o: {
  code: string;
  stage: string;
  where: string;
  neededBytes: number;
  freeBytes: number | null;
}): { message: string; hint: string } {
  const free = o.freeBytes === null ? '' : `, and ${formatBytes(o.freeBytes)} are free there`;
  const what = o.code === 'EDQUOT' ? 'disk quota exceeded' : 'out of disk space';
  return {
    message: `${what} while ${o.stage}: writing to ${o.where} failed (${o.code}); ${o.neededBytes > 0 ? `this build needs about ${formatBytes(o.neededBytes)}` : 'this build needs more space'}${free}`,
    hint: 'free space on that filesystem (e.g. `brr gc` removes unused builds and releases), or point BRR_HOME at a larger disk, then build again; nothing was recorded',
  };
}

/**
 * The `disk_full` error for `e`. `where` is the failed path when the error names one, else
 * `fallback` (the directory being written); `work` and `output` feed the estimate.
 */
export async function diskFullError(
  e: NodeJS.ErrnoException,
  o: { stage: string; fallback: string; work: string; output: string | null },
): Promise<BrrError> {
  const where = typeof e.path === 'string' ? e.path : o.fallback;
  const workBytes = o.work ? await treeBytes(o.work) : 0;
  const neededBytes = workBytes + (o.output ? await treeBytes(o.output) : 0);
  // The build's own scratch is removed right after this error: count it as free when it lives
  // on the same filesystem, or the numbers would tell the user to free more than needed.
  let free = await freeBytes(where);
  if (free !== null && o.work && (await sameDevice(o.work, where))) free += workBytes;
  const { message, hint } = diskFullMessage({
    code: e.code ?? 'ENOSPC',
    stage: o.stage,
    where,
    neededBytes,
    freeBytes: free,
  });
  return new BrrError('disk_full', message, { hint, cause: e, details: { path: where, neededBytes } });
}

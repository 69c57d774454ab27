/**
 * A build's scratch space in the home, and what is left of builds that were killed. A build
 * works in `<home>/tmp/build-<pid>-XXXXXX` and packs layers into the OCI store's scratch files
 * `<oci>/.brr-tmp/<label>-<pid>-<hex>`; a SIGKILLed build removes neither. Both names carry the
 * owner's pid, so the next build removes exactly the leftovers whose owner no longer runs (a
 * pid that was reused by a process started after the leftover was last written does not count).
 * The planner is pure; `removeDeadBuildScratch` reads the directories and removes.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HomePaths } from '../core/home.js';
import { pidRunsSince } from '../core/pid-owner.js';
import { removeTree } from '../store/remove-tree.js';

/** The OCI store's scratch directory (see OciLayout.tempPath). */
const LAYOUT_TMP = '.brr-tmp';

/** mkdtemp prefix of this process's build work directory. */
export function buildWorkPrefix(paths: HomePaths): string {
  return path.join(paths.tmp, `build-${process.pid}-`);
}

/**
 * The owner pid a scratch name carries, or null: a build work directory `build-<pid>-XXXXXX`
 * (mkdtemp adds 6 characters) or an OCI scratch file `<label>-<pid>-<12 hex>`. Names of any
 * other shape (older brr, other tools) are left to `brr gc`.
 */
export function scratchOwner(name: string): number | null {
  const m = /^build-(\d+)-[A-Za-z0-9]{6}$/.exec(name) ?? /^[a-z][a-z.]*-(\d+)-[0-9a-f]{12}$/.exec(name);
  return m ? Number(m[1]) : null;
}

export interface ScratchEntry {
  path: string;
  mtimeMs: number;
}

/** Pure: the entries whose owner is known and no longer runs (`runsSince(pid, ms)` judges). */
export function planScratchCleanup(
  entries: readonly ScratchEntry[],
  runsSince: (pid: number, sinceMs: number) => boolean,
): string[] {
  return entries
    .filter((e) => {
      const pid = scratchOwner(path.basename(e.path));
      return pid !== null && !runsSince(pid, e.mtimeMs);
    })
    .map((e) => e.path);
}

async function listScratch(dir: string): Promise<ScratchEntry[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: ScratchEntry[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await stat(p).catch(() => null);
    if (st) out.push({ path: p, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** Removes the leftovers of killed builds in the home; returns what was removed. Never throws. */
export async function removeDeadBuildScratch(paths: HomePaths): Promise<string[]> {
  const entries = [...(await listScratch(paths.tmp)), ...(await listScratch(path.join(paths.oci, LAYOUT_TMP)))];
  const dead = planScratchCleanup(entries, pidRunsSince);
  const removed: string[] = [];
  for (const p of dead) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) await removeTree(p);
      else await rm(p, { force: true });
      removed.push(p);
    } catch {
      // Gone already (another build cleaned it) or not ours to remove: nothing to do.
    }
  }
  return removed;
}

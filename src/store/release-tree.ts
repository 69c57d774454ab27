import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What a materialized release directory looked like when brr made it, so a directory is never
 * reused on the strength of its marker file alone. Recorded per entry: type, mode, size, inode
 * and ctime (nanoseconds). ctime is the point: any write, chmod, rename, link or replacement
 * moves it to "now", and no unprivileged process can set it back (utimes sets atime and mtime,
 * and itself bumps ctime). So checking costs one lstat per entry, not a hash of every byte;
 * measured in bench/materialize-bench.mjs.
 *
 * A copied or restored home has new inodes and ctimes: its directories fail the check and are
 * simply materialized again from the verified store, which is the safe answer anyway.
 *
 * The snapshot lives in the directory itself (TREE_FILE, read-only, included in nothing it
 * describes); someone who rewrites it to match their edits defeats this check, which is why
 * the store's blobs, not this file, remain the source a directory is rebuilt from.
 */

export const TREE_FILE = '.brr-tree.json';

/** One entry of the tree: `path` relative, with '/' separators. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  size: number;
  ino: string;
  ctimeNs: string;
}

/** Lists the tree under `dir` (not `dir` itself, whose ctime the final rename moves), sorted, without TREE_FILE. */
export async function snapshotTree(dir: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(dir, rel))).sort();
    const stats = await Promise.all(
      names.map((n) => (rel === '' && n === TREE_FILE ? null : lstat(path.join(dir, rel, n), { bigint: true }))),
    );
    for (const [i, name] of names.entries()) {
      const st = stats[i];
      if (!st) continue;
      const p = rel === '' ? name : `${rel}/${name}`;
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other';
      out.push({
        path: p,
        type,
        mode: Number(st.mode & 0o7777n),
        size: Number(st.size),
        ino: String(st.ino),
        ctimeNs: String(st.ctimeNs),
      });
      if (type === 'dir') await walk(p);
    }
  };
  await walk('');
  return out;
}

/** Pure: the first way `actual` differs from `expected`, in words, or null when they agree. */
export function treeDifference(expected: readonly TreeEntry[], actual: readonly TreeEntry[]): string | null {
  const want = new Map(expected.map((e) => [e.path, e]));
  const have = new Map(actual.map((e) => [e.path, e]));
  for (const e of expected) {
    const a = have.get(e.path);
    if (!a) return `${e.path} was removed`;
    if (a.type !== e.type) return `${e.path} was replaced (${e.type} → ${a.type})`;
    if (a.ino !== e.ino) return `${e.path} was replaced`;
    if (a.mode !== e.mode) return `${e.path} changed mode (${e.mode.toString(8)} → ${a.mode.toString(8)})`;
    if (a.size !== e.size || a.ctimeNs !== e.ctimeNs) return `${e.path} was modified`;
  }
  for (const a of actual) if (!want.has(a.path)) return `${a.path} was added`;
  return null;
}

/** The recorded snapshot of a release directory, or null when there is none (older brr) or it is unreadable. */
export async function readTreeFile(dir: string): Promise<TreeEntry[] | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, TREE_FILE), 'utf8')) as { entries?: TreeEntry[] };
    return Array.isArray(parsed.entries) ? parsed.entries : null;
  } catch {
    return null;
  }
}

/** Null when `dir` is exactly as recorded; else why not. */
export async function checkTree(dir: string): Promise<string | null> {
  const recorded = await readTreeFile(dir);
  if (!recorded) return `${TREE_FILE} is missing or unreadable`;
  return treeDifference(recorded, await snapshotTree(dir));
}

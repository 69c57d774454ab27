import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * `rm -rf` that also works on read-only trees (materialized releases, build outputs that
 * chmod themselves) when brr does not run as root: directories are made writable first.
 */
export async function removeTree(dir: string): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p).catch(() => null);
    if (!st?.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) await chmod(p, 0o755);
    for (const d of await readdir(p)) await walk(path.join(p, d));
  };
  await walk(dir);
  await rm(dir, { recursive: true, force: true });
}

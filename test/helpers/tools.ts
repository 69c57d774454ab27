import { spawnSync } from 'node:child_process';

/**
 * Whether an external tool (skopeo, umoci, wrk, …) is on PATH. Tests that need one call
 * `it.skipIf(!!missing(name))` with a visible reason; CI sets BRR_REQUIRE_TOOLS=1, which turns
 * a missing tool into a failure so CI always runs everything.
 */
export function missingTool(name: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
  if (found) return null;
  if (process.env.BRR_REQUIRE_TOOLS === '1') {
    throw new Error(`${name} is required (BRR_REQUIRE_TOOLS=1) but not installed: apt-get install -y ${name}`);
  }
  const reason = `${name} not installed (apt-get install -y ${name}); skipping`;
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}

/**
 * Mounts a tmpfs of `size` (e.g. `2m`) on `dir` for tests that need a real full disk. Needs
 * root: returns a visible skip reason when the mount cannot be made, unless BRR_REQUIRE_TOOLS=1,
 * which turns it into a failure. Unmount with `unmountTmpfs` in afterAll.
 */
export function mountTmpfs(dir: string, size: string): string | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const why = `cannot mount a tmpfs on ${dir} (${(r.stderr || r.error?.message || 'mount failed').trim()}; needs root)`;
  if (process.env.BRR_REQUIRE_TOOLS === '1') throw new Error(`${why}, required by BRR_REQUIRE_TOOLS=1`);
  process.stderr.write(`SKIP: ${why}; skipping\n`);
  return why;
}

/** Unmounts what `mountTmpfs` mounted (lazily, so a leftover open file cannot keep it). */
export function unmountTmpfs(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

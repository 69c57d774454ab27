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

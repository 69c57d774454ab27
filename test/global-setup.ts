import { spawnSync } from 'node:child_process';

/** End-to-end tests run the real CLI from dist/, so compile once before any test file runs. */
export default function setup(): void {
  if (process.env.BRR_SKIP_BUILD === '1') return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc -p tsconfig.build.json failed; fix the type errors above');
}

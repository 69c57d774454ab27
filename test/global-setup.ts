import { spawnSync } from 'node:child_process';

/** End-to-end tests run the real CLI (bin/brr.js runs dist/brr.cjs), so compile and bundle once before any test file runs. */
export default function setup(): void {
  if (process.env.BRR_SKIP_BUILD === '1') return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc -p tsconfig.build.json failed; fix the type errors above');
  const b = spawnSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error('node scripts/bundle.mjs failed (see above)');
}

import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listBuilds } from '../../src/store/builds.js';
import { compileForChild } from '../store/compile-for-child.js';
import { cleanupTempDirs, commitAll, sampleRepo, tempHome } from './git-fixture.js';

afterAll(cleanupTempDirs);

describe('concurrent builds', () => {
  it('two processes building two commits into one home both land in index.json', async () => {
    const compiled = compileForChild(['build/build.ts']);
    const { repo, commit: first } = sampleRepo();
    appendFileSync(path.join(repo, 'src/nf.mjs'), '\n// second\n');
    const second = commitAll(repo, 'second', '2024-09-01T00:00:00Z');
    const paths = tempHome();
    const script = `
      import { buildImage } from ${JSON.stringify(path.join(compiled, 'build/build.js'))};
      import { homePaths } from ${JSON.stringify(path.join(compiled, 'core/home.js'))};
      const [home, repo, ref] = process.argv.slice(1);
      const r = await buildImage({ paths: homePaths(home), repo, ref });
      process.stdout.write(JSON.stringify({ digest: r.digest, commit: r.commit }));`;
    const run = (ref: string) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, paths.root, repo, ref], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, out }));
      });
    const results = await Promise.all([run(first), run(second)]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const built = results.map((r) => JSON.parse(r.out) as { digest: string; commit: string });
    expect(built.map((b) => b.commit)).toEqual([first, second]);
    const listed = await listBuilds(paths);
    expect(listed.map((b) => b.commit).sort()).toEqual([first, second].sort());
    expect(listed.map((b) => b.digest).sort()).toEqual(built.map((b) => b.digest).sort());
  }, 60_000);
});

import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../build/git-fixture.js';

/**
 * Compiles brr sources (and what they import) to JavaScript in a temp dir, so tests can run
 * them in separate Node processes: concurrency between processes is what the lock is for, and
 * vitest's in-process transform cannot give us that.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function compileForChild(entries: string[]): string {
  const out = tempDir('compiled');
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const flags = [
    '--outDir',
    out,
    '--rootDir',
    path.join(ROOT, 'src'),
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--skipLibCheck',
    '--types',
    'node',
  ];
  execFileSync(process.execPath, [tsc, ...flags, ...entries.map((e) => path.join(ROOT, 'src', e))], { stdio: 'pipe' });
  writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return out;
}

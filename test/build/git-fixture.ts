import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { homePaths, type HomePaths } from '../../src/core/home.js';

/** Real git repositories and brr homes in temp dirs, for build and store tests. */

export const SAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/udp-counter');

const tmpDirs: string[] = [];

export function tempDir(label: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `brr-${label}-`));
  tmpDirs.push(d);
  return d;
}

/** Removes every temp dir made so far (read-only release trees included). */
export function cleanupTempDirs(): void {
  for (const d of tmpDirs.splice(0)) {
    execFileSync('chmod', ['-R', 'u+w', d]);
    rmSync(d, { recursive: true, force: true });
  }
}

export function tempHome(): HomePaths {
  return homePaths(tempDir('home'));
}

/** Fixed identity and dates: the same files committed twice give the same commit id. */
export function git(cwd: string, args: string[], date = '2024-05-06T07:08:09Z'): string {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
    GIT_CONFIG_NOSYSTEM: '1',
  };
  for (const k of Object.keys(env))
    if (k.startsWith('GIT_') && !['GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE', 'GIT_CONFIG_NOSYSTEM'].includes(k))
      delete env[k];
  const base = [
    '-c',
    'user.name=brr test',
    '-c',
    'user.email=test@brr.invalid',
    '-c',
    'init.defaultBranch=main',
    '-c',
    'commit.gpgsign=false',
  ];
  return execFileSync('git', [...base, ...args], { cwd, env, encoding: 'utf8' }).trim();
}

/** Commits everything in the work tree; returns the commit id. */
export function commitAll(repo: string, message: string, date?: string): string {
  git(repo, ['add', '-A'], date);
  git(repo, ['commit', '-q', '-m', message], date);
  return git(repo, ['rev-parse', 'HEAD']);
}

/** A repository holding the udp-counter sample (optionally under `subdir`), committed once. */
export function sampleRepo(subdir = ''): { repo: string; commit: string } {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  cpSync(SAMPLE, path.join(repo, subdir), { recursive: true });
  if (subdir) writeFileSync(path.join(repo, 'README.md'), 'a monorepo\n');
  return { repo, commit: commitAll(repo, 'sample') };
}

/** A repository with the given files (path → content), committed once. */
export function repoWith(files: Record<string, string>): { repo: string; commit: string } {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    writeFileSync(path.join(repo, f), text);
  }
  return { repo, commit: commitAll(repo, 'files') };
}

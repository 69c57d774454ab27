import { spawn } from 'node:child_process';
import { BrrError, invalidInput, notFound } from '../core/errors.js';
import { extractTar } from '../store/tar-extract.js';

/**
 * The clean checkout of one commit. Commands are data (Kamal style): the `*Argv` functions
 * return git command lines and run nothing, so tests can compare them exactly; `runGit` and
 * `exportTree` are the only places that execute.
 */

export type Argv = readonly string[];

export const gitDirArgv = (repo: string): Argv => ['git', '-C', repo, 'rev-parse', '--git-dir'];
export const resolveCommitArgv = (repo: string, ref: string): Argv => [
  'git',
  '-C',
  repo,
  'rev-parse',
  '--verify',
  '--quiet',
  `${ref}^{commit}`,
];
export const statusArgv = (repo: string): Argv => ['git', '-C', repo, 'status', '--porcelain'];
export const commitTimeArgv = (repo: string, commit: string): Argv => [
  'git',
  '-C',
  repo,
  'show',
  '-s',
  '--format=%ct',
  commit,
];
export const objectTypeArgv = (repo: string, commit: string, subdir: string): Argv => [
  'git',
  '-C',
  repo,
  'cat-file',
  '-t',
  `${commit}:${subdir}`,
];
export const originUrlArgv = (repo: string): Argv => ['git', '-C', repo, 'config', '--get', 'remote.origin.url'];
/**
 * Archives the *tree* `COMMIT:SUBDIR`, not the commit: git then skips `export-subst` expansion
 * (which can embed relative dates) and the commit-id pax header, so the bytes depend only on
 * the tree.
 */
export const archiveArgv = (repo: string, commit: string, subdir: string, exclude: readonly string[] = []): Argv => [
  'git',
  '-C',
  repo,
  'archive',
  '--format=tar',
  `${commit}:${subdir}`,
  // Directories whose layer is reused as stored (src/build/layer-cache.ts) need no checkout.
  ...(exclude.length > 0 ? ['--', '.', ...exclude.map((d) => `:(exclude,literal)${d}`)] : []),
];

/** git's environment: the caller's, minus GIT_* variables (a hook's GIT_DIR would override -C). */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  env.LC_ALL = 'C';
  return env;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a git command line to completion. */
export function runGit(argv: Argv): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) =>
      reject(
        new BrrError('git_missing', `cannot run git: ${e.message}`, { hint: 'install git (apt-get install -y git)' }),
      ),
    );
    child.on('close', (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

function gitFailed(argv: Argv, r: GitResult): BrrError {
  return new BrrError('git_failed', `${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`, {
    hint: 'check the repository with `git status` and `git log`',
  });
}

/** Resolves REF to a full 40-hex commit id. */
export async function resolveCommit(repo: string, ref = 'HEAD'): Promise<string> {
  if (ref.startsWith('-') || ref.trim() === '')
    throw invalidInput('ref_invalid', `"${ref}" is not a git ref`, 'pass a commit, branch or tag, e.g. --ref main');
  const r = await runGit(resolveCommitArgv(repo, ref));
  const commit = r.stdout.trim();
  if (r.code === 0 && /^[0-9a-f]{40}$/.test(commit)) return commit;
  // Only on failure: tell "no repository" apart from "no such ref".
  if ((await runGit(gitDirArgv(repo))).code !== 0) {
    throw invalidInput(
      'not_a_repo',
      `${repo} is not a git repository`,
      'pass --repo DIR pointing at a git repository with at least one commit',
    );
  }
  throw notFound('ref_not_found', `ref "${ref}" does not name a commit in ${repo}`, `git -C ${repo} log --oneline`);
}

/** Whether the work tree has uncommitted changes or untracked files (never part of a build). */
export async function isDirty(repo: string): Promise<boolean> {
  const r = await runGit(statusArgv(repo));
  return r.code === 0 && r.stdout.trim() !== ''; // a bare repository has no work tree to be dirty
}

/** Committer time of `commit`, seconds since the epoch. */
export async function commitTime(repo: string, commit: string): Promise<number> {
  const argv = commitTimeArgv(repo, commit);
  const r = await runGit(argv);
  const t = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isInteger(t)) throw gitFailed(argv, r);
  return t;
}

/**
 * The origin URL fit for an image label: credentials stripped, and null for local paths, which
 * would tie the digest to where a clone happens to live.
 */
export async function publicOrigin(repo: string): Promise<string | null> {
  const r = await runGit(originUrlArgv(repo));
  const url = r.stdout.trim();
  if (r.code !== 0 || url === '') return null;
  if (/^[\w.-]+@[\w.-]+:(?!\/\/)/.test(url)) return url.replace(/^[^@]+@/, 'git@'); // scp-like ssh
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') return null;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return null;
  }
}

/**
 * Writes exactly the tree of `commit` (or of `subdir` in it) into `dest`, a fresh empty
 * directory, minus the `exclude` directories (relative to `subdir`). Every file gets mtime `mtime` (the commit time), so builds that look at mtimes
 * stay reproducible.
 */
export async function exportTree(
  repo: string,
  commit: string,
  subdir: string,
  dest: string,
  mtime: number,
  exclude: readonly string[] = [],
): Promise<void> {
  if (subdir) {
    const t = await runGit(objectTypeArgv(repo, commit, subdir));
    if (t.code !== 0 || t.stdout.trim() !== 'tree') {
      throw invalidInput(
        'path_not_found',
        `"${subdir}" is not a directory in commit ${commit.slice(0, 12)} of ${repo}`,
        `git -C ${repo} ls-tree -d --name-only ${commit}`,
      );
    }
  }
  const argv = archiveArgv(repo, commit, subdir, exclude);
  const child = spawn(argv[0]!, argv.slice(1), { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  try {
    await extractTar(child.stdout, dest, { mtime });
  } catch (e) {
    child.kill();
    await exited.catch(() => {});
    throw e;
  }
  const code = await exited;
  if (code !== 0) throw gitFailed(argv, { code, stdout: '', stderr: Buffer.concat(err).toString('utf8') });
}

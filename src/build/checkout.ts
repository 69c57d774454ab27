import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BrrError, invalidInput, isBrrError, notFound } from '../core/errors.js';
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

/** Every entry of the tree `COMMIT:SUBDIR`, recursively, NUL-separated: `MODE TYPE OID\tPATH`. */
export const lsTreeArgv = (repo: string, commit: string, subdir: string): Argv => [
  'git',
  '-C',
  repo,
  'ls-tree',
  '-r',
  '-z',
  `${commit}:${subdir}`,
];
export const catBlobArgv = (repo: string, oid: string): Argv => ['git', '-C', repo, 'cat-file', 'blob', oid];

/** One entry of `git ls-tree -r -z`. */
export interface TreeEntry {
  mode: string;
  oid: string;
  path: string;
}

/** Pure: parses `git ls-tree -r -z` output. */
export function parseLsTree(out: string): TreeEntry[] {
  return out
    .split('\0')
    .filter((l) => l !== '')
    .map((l) => {
      const tab = l.indexOf('\t');
      const [mode = '', , oid = ''] = l.slice(0, tab).split(' ');
      return { mode, oid, path: l.slice(tab + 1) };
    });
}

/** Pure: why a symlink at `link` (relative to the tree's root) pointing at `target` cannot be in a build, or null. */
export function symlinkEscape(link: string, target: string): string | null {
  if (target.startsWith('/')) return 'an absolute path, which names a file on the build machine, not in the commit';
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(link), target));
  if (resolved === '..' || resolved.startsWith('../')) return 'outside the repository (or the built subdirectory)';
  return null;
}

/** git's environment: the caller's, minus GIT_* variables (a hook's GIT_DIR would override -C). */
export function gitEnv(): NodeJS.ProcessEnv {
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
    // The extractor only says "unsafe entry"; a symlink the repository itself holds deserves
    // its name and the fix. Looked up only on this failure path, so builds pay nothing for it.
    if (isBrrError(e) && e.code === 'tar_unsafe_entry') throw (await symlinkProblem(repo, commit, subdir)) ?? e;
    throw e;
  }
  const code = await exited;
  if (code !== 0) throw gitFailed(argv, { code, stdout: '', stderr: Buffer.concat(err).toString('utf8') });
  await exportSubmodules(repo, commit, subdir, dest, mtime);
}

export const topLevelArgv = (repo: string): Argv => ['git', '-C', repo, 'rev-parse', '--show-toplevel'];
export const hasCommitArgv = (repo: string, commit: string): Argv => [
  'git',
  '-C',
  repo,
  'cat-file',
  '-e',
  `${commit}^{commit}`,
];

/**
 * git archive leaves a submodule as an empty directory. Each one is exported too, at the commit
 * the tree records (never whatever its work tree has checked out), from the submodule's own
 * repository in the work tree, recursively; when its objects are not there, the build fails
 * saying so rather than shipping an empty directory.
 */
async function exportSubmodules(repo: string, commit: string, subdir: string, dest: string, mtime: number) {
  const ls = await runGit(lsTreeArgv(repo, commit, subdir));
  if (ls.code !== 0) throw gitFailed(lsTreeArgv(repo, commit, subdir), ls);
  const gitlinks = parseLsTree(ls.stdout).filter((e) => e.mode === '160000');
  if (gitlinks.length === 0) return;
  const top = await runGit(topLevelArgv(repo));
  for (const g of gitlinks) {
    const shown = subdir ? `${subdir.replace(/\/$/, '')}/${g.path}` : g.path;
    const subRepo = top.code === 0 ? path.join(top.stdout.trim(), shown) : null;
    // Its own repository only: a plain directory would let git find the parent's instead.
    const own = subRepo ? await runGit(topLevelArgv(subRepo)) : null;
    const present =
      subRepo !== null &&
      own?.code === 0 &&
      path.resolve(own.stdout.trim()) === path.resolve(subRepo) &&
      (await runGit(hasCommitArgv(subRepo, g.oid))).code === 0;
    if (!present || !subRepo) {
      throw new BrrError(
        'submodule_missing',
        `${shown} is a git submodule at commit ${g.oid.slice(0, 12)}, whose objects are not in ${subRepo ?? `a work tree of ${repo}`}; refusing to build it as an empty directory`,
        {
          hint: `fetch it: git -C ${repo} submodule update --init --recursive, then build again (or remove the submodule from the commit)`,
          details: { submodule: shown, commit: g.oid },
        },
      );
    }
    const into = path.join(dest, g.path);
    await mkdir(into, { recursive: true });
    await exportTree(subRepo, g.oid, '', into, mtime);
  }
}

/** The first symlink of the tree that points outside it, as a clear error, or null. */
async function symlinkProblem(repo: string, commit: string, subdir: string): Promise<BrrError | null> {
  const ls = await runGit(lsTreeArgv(repo, commit, subdir));
  if (ls.code !== 0) return null;
  for (const e of parseLsTree(ls.stdout)) {
    if (e.mode !== '120000') continue;
    const blob = await runGit(catBlobArgv(repo, e.oid));
    if (blob.code !== 0) continue;
    const why = symlinkEscape(e.path, blob.stdout);
    if (!why) continue;
    const shown = subdir ? `${subdir.replace(/\/$/, '')}/${e.path}` : e.path;
    return invalidInput(
      'repo_symlink_outside',
      `${shown} in commit ${commit.slice(0, 12)} is a symlink to "${blob.stdout}": ${why}; a build holds only the commit's own files`,
      `point it at a path inside the repository with a relative link (ln -sfn RELATIVE/PATH ${shown}), or copy the file in, or remove it (git rm ${shown}); commit, then build again`,
      { link: shown, target: blob.stdout },
    );
  }
  return null;
}

import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  archiveArgv,
  commitTime,
  exportTree,
  isDirty,
  publicOrigin,
  resolveCommit,
  resolveCommitArgv,
  statusArgv,
  symlinkEscape,
} from '../../src/build/checkout.js';
import { cacheKey, normalizeSubdir } from '../../src/build/build.js';
import { recipeEnv } from '../../src/build/recipe.js';
import { cleanupTempDirs, commitAll, git, repoWith, tempDir } from './git-fixture.js';

afterAll(cleanupTempDirs);

describe('git command lines (commands as data)', () => {
  it.each([
    [resolveCommitArgv('/r', 'main'), ['git', '-C', '/r', 'rev-parse', '--verify', '--quiet', 'main^{commit}']],
    [statusArgv('/r'), ['git', '-C', '/r', 'status', '--porcelain']],
    [archiveArgv('/r', 'abc', ''), ['git', '-C', '/r', 'archive', '--format=tar', 'abc:']],
    [archiveArgv('/r', 'abc', 'svc/a'), ['git', '-C', '/r', 'archive', '--format=tar', 'abc:svc/a']],
    [
      archiveArgv('/r', 'abc', '', ['node_modules']),
      ['git', '-C', '/r', 'archive', '--format=tar', 'abc:', '--', '.', ':(exclude,literal)node_modules'],
    ],
  ])('%j', (argv, expected) => expect(argv).toEqual(expected));

  it('normalizes --path and keys the cache on commit, path and brr version', () => {
    expect(normalizeSubdir('./svc//a/')).toBe('svc/a');
    expect(normalizeSubdir(undefined)).toBe('');
    expect(() => normalizeSubdir('/abs')).toThrow(/inside the repository/);
    expect(cacheKey('a'.repeat(40), '')).not.toBe(cacheKey('a'.repeat(40), 'svc'));
    expect(cacheKey('a'.repeat(40), '')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives build commands nothing but the fixed environment', () => {
    expect(recipeEnv('/h', 42, '/bin')).toEqual({
      PATH: '/bin',
      HOME: '/h',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      CI: 'true',
      SOURCE_DATE_EPOCH: '42',
    });
  });
});

describe('checkout against a real repository', () => {
  it('resolves refs, reads the commit time and sees a dirty tree', async () => {
    const { repo, commit } = repoWith({ 'a.txt': 'a\n' });
    git(repo, ['tag', 'v1']);
    expect(await resolveCommit(repo)).toBe(commit);
    expect(await resolveCommit(repo, 'v1')).toBe(commit);
    expect(await resolveCommit(repo, commit.slice(0, 8))).toBe(commit);
    expect(await commitTime(repo, commit)).toBe(Date.parse('2024-05-06T07:08:09Z') / 1000);
    expect(await isDirty(repo)).toBe(false);
    writeFileSync(path.join(repo, 'new.txt'), 'x');
    expect(await isDirty(repo)).toBe(true);
    await expect(resolveCommit(repo, '--upload-pack=x')).rejects.toMatchObject({ code: 'ref_invalid' });
  });

  it('exports exactly the committed tree, with symlinks, exec bits and the commit time as mtime', async () => {
    const { repo } = repoWith({ 'svc/app.js': 'app\n', 'svc/bin/run': '#!/bin/sh\n', 'top.txt': 'top\n' });
    chmodSync(path.join(repo, 'svc/bin/run'), 0o755);
    symlinkSync('app.js', path.join(repo, 'svc/main.js'));
    mkdirSync(path.join(repo, 'svc/empty-dirs-are-not-tracked'));
    const commit = commitAll(repo, 'more');
    writeFileSync(path.join(repo, 'svc/app.js'), 'uncommitted\n');
    const dest = tempDir('export');
    await exportTree(repo, commit, 'svc', dest, 1_000_000_000);
    expect(readFileSync(path.join(dest, 'app.js'), 'utf8')).toBe('app\n');
    expect(readlinkSync(path.join(dest, 'main.js'))).toBe('app.js');
    expect(lstatSync(path.join(dest, 'bin/run')).mode & 0o100).toBe(0o100);
    expect(lstatSync(path.join(dest, 'app.js')).mtimeMs).toBe(1_000_000_000_000);
    expect(existsSync(path.join(dest, 'top.txt'))).toBe(false);
    await expect(exportTree(repo, commit, 'top.txt', tempDir('x'), 0)).rejects.toMatchObject({
      code: 'path_not_found',
    });
  });

  it('names an absolute (or escaping) symlink of the repository and how to fix it', async () => {
    const { repo } = repoWith({ 'svc/app.js': 'app\n' });
    symlinkSync('/etc/hostname', path.join(repo, 'svc/host'));
    const commit = commitAll(repo, 'absolute link');
    for (const sub of ['', 'svc']) {
      const err = await exportTree(repo, commit, sub, tempDir('export'), 0).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'repo_symlink_outside',
        exitCode: 2,
        message: expect.stringContaining('svc/host in commit'),
        hint: expect.stringContaining('git rm svc/host'),
      });
      expect((err as Error).message).toContain('"/etc/hostname": an absolute path');
    }
  });

  it.each<[string, string, string | null]>([
    ['a', '/etc/passwd', 'an absolute path'],
    ['a/b', '../../x', 'outside'],
    ['a/b', '../x', null],
    ['a', 'b/../c', null],
  ])('symlinkEscape(%s → %s)', (link, target, why) => {
    const got = symlinkEscape(link, target);
    if (why === null) expect(got).toBeNull();
    else expect(got).toContain(why);
  });

  it('builds a submodule at the commit the tree records, or fails naming it when its objects are missing', async () => {
    const { repo: lib } = repoWith({ 'lib.js': 'v1\n' });
    const pinned = git(lib, ['rev-parse', 'HEAD']);
    const { repo } = repoWith({ 'svc/app.js': 'app\n' });
    git(repo, ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'svc/vendor/lib']);
    const commit = commitAll(repo, 'add submodule');
    // The submodule's work tree moves on (uncommitted in the parent): the recorded commit wins.
    writeFileSync(path.join(repo, 'svc/vendor/lib/lib.js'), 'v2\n');
    commitAll(path.join(repo, 'svc/vendor/lib'), 'v2');
    for (const [sub, at] of [
      ['', 'svc/vendor/lib/lib.js'],
      ['svc', 'vendor/lib/lib.js'],
    ] as const) {
      const dest = tempDir('export');
      await exportTree(repo, commit, sub, dest, 0);
      expect(readFileSync(path.join(dest, at), 'utf8')).toBe('v1\n');
    }
    expect(pinned).toMatch(/^[0-9a-f]{40}$/);
    // A clone without `submodule update`: the directory is empty, the objects are not there.
    const clone = tempDir('clone');
    git(clone, ['clone', '-q', repo, '.']);
    await expect(exportTree(clone, commit, '', tempDir('export'), 0)).rejects.toMatchObject({
      code: 'submodule_missing',
      message: expect.stringContaining('svc/vendor/lib is a git submodule at commit'),
      hint: expect.stringContaining('submodule update --init --recursive'),
    });
  });

  it('labels only public origins, without credentials', async () => {
    const { repo } = repoWith({ 'a.txt': 'a\n' });
    expect(await publicOrigin(repo)).toBeNull();
    git(repo, ['remote', 'add', 'origin', 'https://user:s3cret@git.example.com/nf/upf.git']);
    expect(await publicOrigin(repo)).toBe('https://git.example.com/nf/upf.git');
    git(repo, ['remote', 'set-url', 'origin', 'deploy@git.example.com:nf/upf.git']);
    expect(await publicOrigin(repo)).toBe('git@git.example.com:nf/upf.git');
    git(repo, ['remote', 'set-url', 'origin', '/srv/git/upf.git']);
    expect(await publicOrigin(repo)).toBeNull();
  });
});

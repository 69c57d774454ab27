import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

describe('every bad input exits non-zero, names the problem and the next step, and writes nothing', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('release before any build', async () => {
    const r = await sb.brr(['release']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has no build yet');
    expect(r.stderr).toContain('hint: run `brr build`');
  });

  it('unknown ref', async () => {
    const r = await sb.brr(['build', '--ref', 'no-such-branch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no-such-branch');
    expect(r.stderr).toContain('hint:');
  });

  it('not a git repository', async () => {
    const r = await sb.brr(['build', '--repo', sb.home + '-nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: .*(not a git|does not exist|no such)/i);
  });

  it('a bad manifest in the commit', async () => {
    const good = readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8');
    sb.commit('brr.yaml', good.replace('restart: always', 'restart: sometimes'), 'bad manifest');
    const r = await sb.brr(['build']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('processes.nf.restart: expected always, on-failure or never');
    sb.commit('brr.yaml', good, 'fix manifest');
  });

  it('a failing build shows the exit code and the last lines, and records nothing', async () => {
    const good = readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8');
    sb.commit(
      'brr.yaml',
      good.replace('command: node build.mjs', 'command: "echo compiling; echo broken-thing >&2; exit 7"'),
      'break build',
    );
    const r = await sb.brr(['build']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exit(ed with)? (code )?7/);
    expect(r.stderr).toContain('broken-thing');
    expect(r.stderr).toMatch(/build-logs\/\S+\.log/);
    const builds = await sb.json<unknown[]>(['builds']);
    expect(builds).toEqual([]);
    sb.commit('brr.yaml', good, 'fix build');
  });

  it('unknown build, release and malformed ids', async () => {
    const b = await sb.brr(['release', '--build', 'sha256:' + '0'.repeat(64)]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('hint:');
    await sb.ok(['build']);
    await sb.ok(['release']);
    const run = await sb.brr(['run', 'v99']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('v99');
    const show = await sb.brr(['show', 'latest-please']);
    expect(show.code).toBe(2);
    const limit = await sb.brr(['releases', '--limit', 'many']);
    expect(limit.code).toBe(2);
    const unknownFlag = await sb.brr(['releases', '--colour']);
    expect(unknownFlag.code).toBe(2);
  });

  it('bad config keys and assignments change nothing', async () => {
    const before = await sb.json<unknown[]>(['releases']);
    for (const args of [
      ['config', 'set', 'bad-key=1'],
      ['config', 'set', 'NOEQUALS'],
      ['config', 'set', 'BRR_APP=x'],
      ['config', 'unset', 'NOT_SET'],
    ]) {
      const r = await sb.brr(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('hint:');
    }
    expect(await sb.json<unknown[]>(['releases'])).toEqual(before);
  });

  it('a corrupted blob makes run refuse and leaves the running release untouched', async () => {
    await sb.ok(['run', 'v1']);
    const v1 = JSON.parse((await sb.get('/')).body) as { release: string; pid: number };
    expect(v1.release).toBe('v1');
    sb.commit('src/extra.txt', 'new code\n', 'new code');
    const built = await sb.json<{ digest: string }>(['build']);
    const rel = await sb.json<{ id: string }>(['release', '--build', built.digest]);
    // Flip bytes in the biggest blob of the new image (its layer).
    const blobs = path.join(sb.home, 'oci', 'blobs', 'sha256');
    const manifest = JSON.parse(readFileSync(path.join(blobs, built.digest.slice(7)), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    const layer = path.join(blobs, manifest.layers[0]!.digest.slice(7));
    const bytes = readFileSync(layer);
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(layer, bytes);
    const r = await sb.brr(['run', rel.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(manifest.layers[0]!.digest.slice(7, 19));
    expect(r.stderr).toContain('hint:');
    const still = JSON.parse((await sb.get('/')).body) as { release: string; pid: number };
    expect(still).toMatchObject({ release: 'v1', pid: v1.pid });
    const dir = path.join(sb.home, 'releases', 'udp-counter');
    expect(existsSync(path.join(dir, rel.id))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('v2') || n.includes('tmp'))).toEqual([]);
  });
});

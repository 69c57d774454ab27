import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

interface ReleaseJson {
  id: string;
  seq: number;
  build: string;
  hash: string;
  prevHash: string | null;
  cause: string;
  createdAt: string;
  current: boolean;
  config: Record<string, string>;
}

describe('build → release → run → config → rollback, through the real CLI', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  let digest = '';
  it('builds a commit into an image, then hits the cache, then rebuilds to the same digest', async () => {
    const first = await sb.json<{ digest: string; commit: string; cached: boolean }>(['build']);
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(first.cached).toBe(false);
    const again = await sb.json<{ digest: string; cached: boolean }>(['build']);
    expect(again).toMatchObject({ digest: first.digest, cached: true });
    const rebuilt = await sb.json<{ digest: string; cached: boolean }>(['build', '--no-cache']);
    expect(rebuilt).toMatchObject({ digest: first.digest, cached: false });
    digest = first.digest;
    const builds = await sb.json<Array<{ digest: string; app: string }>>(['builds']);
    expect(builds.map((b) => b.digest)).toEqual([digest]);
    expect(builds[0]!.app).toBe('udp-counter');
  });

  it('stages config before the first release and releases it as v1', async () => {
    const staged = await sb.json<{ staged: boolean; release: string | null }>(['config', 'set', 'GREETING=hello']);
    expect(staged).toMatchObject({ staged: true, release: null });
    await sb.ok(['config', 'set', 'API_TOKEN=s3cr3t-value', '--secret']);
    const rel = await sb.json<{ id: string; seq: number; build: string; hash: string }>(['release', '-m', 'first']);
    expect(rel).toMatchObject({ id: 'v1', seq: 1, build: digest });
    expect(rel.hash).toMatch(/^[0-9a-f]{64}$/);
    const cfg = await sb.json<Record<string, string>>(['config']);
    expect(cfg).toEqual({ API_TOKEN: '<redacted>', GREETING: 'hello' });
  });

  it('runs v1 under the supervisor; it answers on TCP and UDP', async () => {
    const r = await sb.ok(['run']);
    expect(r.stdout).toContain('v1 is running');
    const res = await sb.get('/');
    expect(JSON.parse(res.body)).toMatchObject({ greeting: 'hello', release: 'v1' });
    expect(await sb.udp('ping')).toBe('echo:ping');
    expect((await sb.get('/metrics')).body).toContain('udp_datagrams_total 1');
  });

  it('a config change makes v2 and runs it', async () => {
    const r = await sb.json<{ release: string; ran: boolean }>(['config', 'set', 'GREETING=hola']);
    expect(r).toMatchObject({ release: 'v2', ran: true });
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ greeting: 'hola', release: 'v2' });
    const same = await sb.ok(['config', 'set', 'GREETING=hola']);
    expect(same.stdout).toContain('no change');
  });

  it('rollback appends v3 = v1 (build and config) and runs it', async () => {
    const r = await sb.json<{ id: string; rollbackOf: string }>(['rollback']);
    expect(r).toMatchObject({ id: 'v3', rollbackOf: 'v1' });
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ greeting: 'hello', release: 'v3' });
  });

  it('lists the history newest first with a valid chain, and verifies', async () => {
    const rels = await sb.json<ReleaseJson[]>(['releases']);
    expect(rels.map((r) => r.id)).toEqual(['v3', 'v2', 'v1']);
    expect(rels.map((r) => r.cause).slice(0, 2)).toEqual(['rollback to v1', 'set GREETING']);
    expect(rels[2]!.cause).toMatch(/^deploy [0-9a-f]{7}$/);
    expect(rels[0]!.prevHash).toBe(rels[1]!.hash);
    expect(rels[1]!.prevHash).toBe(rels[2]!.hash);
    expect(rels[2]!.prevHash).toBeNull();
    expect(rels.find((r) => r.current)!.id).toBe('v3');
    expect(rels.every((r) => !JSON.stringify(r).includes('s3cr3t-value'))).toBe(true);
    const v = await sb.ok(['verify']);
    expect(v.stdout).toContain('ledger intact');
  });

  it('show and diff never reveal secret values', async () => {
    await sb.ok(['config', 'set', 'API_TOKEN=n3w-s3cr3t']);
    const show = await sb.ok(['show', 'v4']);
    const diff = await sb.ok(['diff', 'v3', 'v4']);
    const diffJson = await sb.ok(['diff', 'v3', 'v4', '--json']);
    for (const text of [show.stdout, show.stderr, diff.stdout, diffJson.stdout]) {
      expect(text).not.toContain('s3cr3t');
    }
    expect(diff.stdout).toContain('API_TOKEN');
    expect(show.stdout).toContain('API_TOKEN=<redacted>');
  });

  it('ps and status show what runs; status fails after shutdown', async () => {
    const ps = await sb.json<Array<{ app: string; release: string; type: string; state: string; pid: number }>>(['ps']);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ app: 'udp-counter', release: 'v4', type: 'nf' });
    const st = await sb.brr(['status', '--json']);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toEqual([
      expect.objectContaining({ app: 'udp-counter', ledger: 'v4', running: 'v4', inSync: true }),
    ]);
    await sb.ok(['shutdown']);
    const after = await sb.brr(['status']);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('supervisor not running');
  });
});

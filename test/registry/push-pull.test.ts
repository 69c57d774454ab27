import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../e2e/harness.js';
import { skopeoInspect, skopeoRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * `brr push` / `brr pull` through the real CLI against Debian's docker-registry on 127.0.0.1
 * (anonymous), checked with skopeo: the remote digest is the local one, a second push sends no
 * blob, and an image pulled into a fresh home, or promoted to a second registry, keeps it.
 */

const skip = missingTool('docker-registry') ?? missingTool('skopeo');

interface PushJson {
  reference: string;
  digest: string;
  tag: string | null;
  recorded: string;
  bytesSent: number;
  blobsPushed: number;
  blobsSkipped: number;
}

describe.skipIf(!!skip)('push and pull against a real registry', () => {
  let reg: TestRegistry;
  let reg2: TestRegistry;
  let s: Sandbox;
  let digest: string;
  const homes: string[] = [];
  const freshHome = () => {
    const h = mkdtempSync(path.join(tmpdir(), 'brr-pull-home-'));
    homes.push(h);
    return h;
  };

  beforeAll(async () => {
    [reg, reg2, s] = await Promise.all([startRegistry(), startRegistry(), Sandbox.create()]);
    digest = (await s.json<{ digest: string }>(['build'])).digest;
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), reg2?.stop(), s?.cleanup()]);
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('pushes a build under its local digest; skopeo sees the digest and labels', async () => {
    const r = await s.ok(['push', '--to', `${reg.host}/nf/udp-counter:v1`]);
    expect(r.stdout.trim()).toBe(`${reg.host}/nf/udp-counter@${digest}`);
    expect(r.stderr).toMatch(/pushed 2 blob\(s\), skipped 0/);
    const info = skopeoInspect(`${reg.host}/nf/udp-counter@${digest}`);
    expect(info.Digest).toBe(digest);
    const labels = info.Labels as Record<string, string>;
    expect(labels['dev.brr.app']).toBe('udp-counter');
    expect(labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$/);
    expect(skopeoInspect(`${reg.host}/nf/udp-counter:v1`).Digest).toBe(digest);
  });

  it('a second push skips every blob and sends only the manifest', async () => {
    const r = await s.json<PushJson>(['push', '--to', `${reg.host}/nf/udp-counter:v1`]);
    expect(r).toMatchObject({ digest, blobsPushed: 0, blobsSkipped: 2, tag: 'v1' });
    expect(r.bytesSent).toBe(Buffer.byteLength(skopeoRaw(`${reg.host}/nf/udp-counter@${digest}`)));
  });

  it('records where the build went (brr builds --json)', async () => {
    await s.ok(['push', digest.slice(7, 19), '--to', `${reg.host}/nf/by-digest`]);
    const builds = await s.json<Array<{ digest: string; pushed: string[] }>>(['builds']);
    const b = builds.find((x) => x.digest === digest)!;
    expect(b.pushed).toEqual([`${reg.host}/nf/udp-counter:v1@${digest}`, `${reg.host}/nf/by-digest@${digest}`]);
  });

  it('pulls by tag and by digest into a fresh home under the same digest', async () => {
    const home = freshHome();
    const byTag = await s.brr(['pull', `${reg.host}/nf/udp-counter:v1`, '--json'], { env: { BRR_HOME: home } });
    expect(byTag.code, byTag.stderr).toBe(0);
    expect(JSON.parse(byTag.stdout)).toMatchObject({
      digest,
      app: 'udp-counter',
      added: true,
      source: `${reg.host}/nf/udp-counter@${digest}`,
    });
    const again = JSON.parse(
      (await s.brr(['pull', `${reg.host}/nf/udp-counter@${digest}`, '--json'], { env: { BRR_HOME: home } })).stdout,
    );
    expect(again).toMatchObject({ digest, added: false, bytesReceived: 0 });
    const builds = JSON.parse((await s.brr(['builds', '--json'], { env: { BRR_HOME: home } })).stdout) as Array<{
      digest: string;
      app: string;
    }>;
    expect(builds.map((b) => [b.digest, b.app])).toEqual([[digest, 'udp-counter']]);
  });

  it('a pulled build releases and runs like a local one', async () => {
    const home = freshHome();
    const env = { BRR_HOME: home };
    expect((await s.brr(['pull', `${reg.host}/nf/udp-counter:v1`], { env })).code).toBe(0);
    const rel = await s.brr(['release', '--build', digest, '--json'], { env });
    expect(rel.code, rel.stderr).toBe(0);
    const run = await s.brr(['run', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    try {
      expect((await s.get('/healthz')).status).toBe(200);
    } finally {
      await s.brr(['shutdown'], { env });
    }
  });

  it('promotes between registries (air-gapped): pull from one, push to the other, same digest', async () => {
    const home = freshHome();
    const env = { BRR_HOME: home };
    expect((await s.brr(['pull', `${reg.host}/nf/udp-counter@${digest}`], { env })).code).toBe(0);
    const r = await s.brr(['push', digest, '--to', `${reg2.host}/prod/udp-counter:v1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      digest,
      reference: `${reg2.host}/prod/udp-counter@${digest}`,
      blobsPushed: 2,
    });
    expect(skopeoInspect(`${reg2.host}/prod/udp-counter:v1`).Digest).toBe(digest);
  });

  it('a missing tag is registry_not_found (exit 1)', async () => {
    const r = await s.brr(['pull', `${reg.host}/nf/udp-counter:nope`, '--json'], { env: { BRR_HOME: freshHome() } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('registry_not_found');
  });
});

/**
 * Switches under continuous load: new TCP connections, keep-alive requests and UDP datagrams
 * keep flowing through the supervisor's held sockets while releases switch, and none fails.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupervisorClient } from '../../../src/run/local/client.js';
import type { ProcessInfo } from '../../../src/run/types.js';
import {
  freePort,
  InMemoryLedgerDouble,
  liveMarkedPids,
  sampleProcess,
  startInProcess,
  tempHome,
  waitFor,
  writeSampleRelease,
} from './helpers/fixture.js';
import { startHttpLoad, startUdpLoad } from './helpers/load.js';

const home = tempHome();
const ledger = new InMemoryLedgerDouble();
let client: SupervisorClient;
let done: Promise<void>;
let httpPort: number;
let udpPort: number;

beforeAll(async () => {
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
  for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) {
    ledger.add({
      app: 'upf',
      release: v,
      releaseHash: `hash-${v}`,
      dir: writeSampleRelease(home, 'upf', v),
      env: { GREETING: `hello from ${v}` },
      processes: { nf: sampleProcess(httpPort, udpPort, { scale: 2 }) },
      formation: {},
    });
  }
  ({ client, done } = await startInProcess(ledger.deps(home)));
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

describe('switch under load', () => {
  it('serves every TCP request and echoes every UDP datagram across several switches', async () => {
    const first = await client.request<{ release: string; durationMs: number }>('switch', {
      app: 'upf',
      release: 'v1',
    });
    expect(first.release).toBe('v1');

    const fresh = startHttpLoad(httpPort, { keepAlive: false, concurrency: 2 });
    const kept = startHttpLoad(httpPort, { keepAlive: true, concurrency: 2 });
    const udp = startUdpLoad(udpPort, { intervalMs: 2, perTick: 2 });
    await new Promise((r) => setTimeout(r, 500));

    const durations: number[] = [];
    for (const v of ['v2', 'v3', 'v4', 'v5']) {
      const progress: string[] = [];
      const r = await client.request<{ release: string; durationMs: number; from: string }>(
        'switch',
        { app: 'upf', release: v },
        (m) => progress.push(m),
      );
      expect(r).toMatchObject({ release: v, noop: false });
      expect(progress.some((m) => m.startsWith('starting 2 process'))).toBe(true);
      expect(progress.some((m) => m.startsWith('waiting for 2 process'))).toBe(true);
      expect(progress.some((m) => m.includes('draining 2 old process'))).toBe(true);
      durations.push(r.durationMs);
      await new Promise((res) => setTimeout(res, 400));
    }
    const [a, b, u] = [await fresh.stop(), await kept.stop(), await udp.stop()];
    const activatedMs = ledger.events
      .filter((e) => e.type === 'activated')
      .slice(1)
      .map((e) => e.detail.durationMs);
    process.stderr.write(
      `switch durations (ms): to activated ${activatedMs.join(', ')}; to old drained ${durations.join(', ')}\n`,
    );
    process.stderr.write(`new-connection requests: ${a.ok} ok, ${a.failed} failed ${JSON.stringify(a.releases)}\n`);
    process.stderr.write(
      `keep-alive requests: ${b.ok} ok (${b.reused} on reused sockets), ${b.failed} failed ${JSON.stringify(b.releases)}\n`,
    );
    process.stderr.write(`udp datagrams: ${u.sent} sent, ${u.received} echoed, lost ${u.lost.length}\n`);

    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    expect(u.lost).toEqual([]);
    expect(a.ok).toBeGreaterThan(500);
    expect(b.reused).toBeGreaterThan(100);
    expect(u.sent).toBeGreaterThan(1000);
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) expect(a.releases[v]).toBeGreaterThan(0);

    expect(ledger.eventsOf('upf')).toEqual([
      'switch-started v1',
      'activated v1',
      'switch-started v2',
      'activated v2',
      'switch-started v3',
      'activated v3',
      'switch-started v4',
      'activated v4',
      'switch-started v5',
      'activated v5',
    ]);
    const activated = ledger.events.filter((e) => e.type === 'activated');
    expect(activated[1]?.detail).toMatchObject({ from: 'v1', durationMs: expect.any(Number) });

    // Only v5's two processes remain, and they are all the home's live children.
    const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
    expect(ps.map((p) => `${p.release} ${p.type}.${p.index} ${p.state}`)).toEqual([
      'v5 nf.1 healthy',
      'v5 nf.2 healthy',
    ]);
    await waitFor(
      () =>
        JSON.stringify(liveMarkedPids(home)) ===
        JSON.stringify(ps.map((p) => p.pid).sort((x, y) => (x ?? 0) - (y ?? 0))),
      5_000,
    );
  }, 120_000);

  it('answers a switch to the running release with a no-op', async () => {
    const r = await client.request('switch', { app: 'upf', release: 'v5' });
    expect(r).toMatchObject({ release: 'v5', noop: true });
    expect(ledger.eventsOf('upf').at(-1)).toBe('activated v5');
  });

  it('reports status: record next to reality', async () => {
    const st = await client.request<unknown[]>('status');
    expect(st).toEqual([
      {
        app: 'upf',
        release: 'v5',
        releaseHash: 'hash-v5',
        processes: 2,
        up: 2,
        healthy: 2,
        allUp: true,
        allHealthy: true,
        switchingTo: null,
      },
    ]);
  });
});

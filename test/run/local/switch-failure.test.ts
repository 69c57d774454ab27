/**
 * A switch that cannot succeed (unhealthy, crashing, unpreparable) leaves the old release
 * serving untouched, records 'failed' with the reason and the new process's last lines, and
 * answers switch_failed.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrrError } from '../../../src/core/errors.js';
import type { SupervisorClient } from '../../../src/run/local/client.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import {
  freePort,
  httpGet,
  InMemoryLedgerDouble,
  liveMarkedPids,
  sampleProcess,
  startInProcess,
  tempHome,
  waitFor,
  writeSampleRelease,
} from './helpers/fixture.js';

const home = tempHome();
const ledger = new InMemoryLedgerDouble();
let client: SupervisorClient;
let done: Promise<void>;
let httpPort: number;

const release = (v: string, env: Record<string, string>, timeoutMs = 1_500): RunSpec => ({
  app: 'upf',
  release: v,
  releaseHash: `hash-${v}`,
  dir: writeSampleRelease(home, 'upf', v),
  env,
  processes: {
    nf: sampleProcess(httpPort, udpPort, {
      scale: 2,
      health: { check: { kind: 'http', path: '/healthz', port: 'http' }, timeoutMs, intervalMs: 50, upForMs: 0 },
    }),
  },
  formation: {},
});
let udpPort: number;

async function switchError(v: string): Promise<BrrError> {
  const e = await client.request('switch', { app: 'upf', release: v }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BrrError);
  return e as BrrError;
}

beforeAll(async () => {
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
  ledger.add(release('v1', { GREETING: 'one' }));
  ledger.add(release('v2', { HEALTHY: '0' }));
  ledger.add(release('v3', { FAIL_ON_START: '1' }));
  ledger.add(release('v4', { GREETING: 'four', DRAIN_MS: '1500' }));
  ({ client, done } = await startInProcess(ledger.deps(home)));
  await client.request('switch', { app: 'upf', release: 'v1' });
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

async function expectV1Untouched(pids: Array<number | null>): Promise<void> {
  const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
  expect(ps.map((p) => [p.release, p.pid, p.state, p.restarts])).toEqual(pids.map((pid) => ['v1', pid, 'healthy', 0]));
  const r = await httpGet(httpPort);
  expect(JSON.parse(r.body)).toMatchObject({ release: 'v1', greeting: 'one' });
  // No process of the failed release is left.
  await waitFor(() => liveMarkedPids(home).length === 2, 5_000);
}

describe('failed switches', () => {
  it('keeps v1 when v2 never turns healthy, and records why', async () => {
    const pids = (await client.request<ProcessInfo[]>('ps')).map((p) => p.pid);
    const e = await switchError('v2');
    expect(e).toMatchObject({ code: 'switch_failed', exitCode: 1 });
    expect(e.message).toMatch(
      /switch to v2 failed: nf\.\d: health check http \/healthz did not pass within 1\.5s: last result: HTTP 503/,
    );
    expect(e.hint).toMatch(/^v1 keeps running unchanged; the new processes' output is in .*\/logs\/upf/);
    const failed = ledger.events.at(-1);
    expect(failed).toMatchObject({
      type: 'failed',
      release: 'v2',
      detail: { reason: expect.stringContaining('HTTP 503') },
    });
    expect((failed?.detail.logTail as string[]).some((l) => /nf v2 pid \d+ serving/.test(l))).toBe(true);
    expect(ledger.eventsOf('upf').slice(-2)).toEqual(['switch-started v2', 'failed v2']);
    expect(ledger.current.get('upf')).toBe('v1');
    await expectV1Untouched(pids);
  });

  it('keeps v1 when v3 crashes while starting, and fails fast', async () => {
    const pids = (await client.request<ProcessInfo[]>('ps')).map((p) => p.pid);
    const t0 = performance.now();
    const e = await switchError('v3');
    const ms = performance.now() - t0;
    process.stderr.write(`crash while starting reported after ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(1_500);
    expect(e.message).toMatch(/process exited while starting/);
    const tail = ledger.events.at(-1)?.detail.logTail as string[];
    expect(tail).toContain('FAIL_ON_START=1: refusing to start');
    expect(tail.some((l) => l.includes('exited with code 3'))).toBe(true);
    await expectV1Untouched(pids);
  });

  it('records a prepare failure and changes nothing', async () => {
    const pids = (await client.request<ProcessInfo[]>('ps')).map((p) => p.pid);
    const e = await switchError('v9');
    expect(e.message).toMatch(/prepare failed: release v9 of upf not found/);
    expect(ledger.eventsOf('upf').at(-1)).toBe('failed v9');
    await expectV1Untouched(pids);
  });

  it('refuses a second switch of the same app while one is in progress', async () => {
    const first = client.request('switch', { app: 'upf', release: 'v4' });
    await new Promise((r) => setTimeout(r, 30));
    const e = await switchError('v1');
    expect(e).toMatchObject({ code: 'switch_in_progress', exitCode: 1 });
    const st = await client.request<Array<{ switchingTo: string | null }>>('status', { app: 'upf' });
    expect(st[0]?.switchingTo).toBe('v4');
    await expect(first).resolves.toMatchObject({ release: 'v4', from: 'v1' });
  });
});

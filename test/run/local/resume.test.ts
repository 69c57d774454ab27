/**
 * Start-up: every desired release is resumed without recording events; a release that fails its
 * gate on resume keeps running under its restart policy (nothing else to run, no one to ask),
 * and apps cannot take each other's ports.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupervisorClient } from '../../../src/run/local/client.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import {
  freePort,
  httpGet,
  InMemoryLedgerDouble,
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
let goodPort: number;
let badPort: number;

async function spec(app: string, release: string, httpPort: number, env: Record<string, string>): Promise<RunSpec> {
  const health = {
    check: { kind: 'http' as const, path: '/healthz', port: 'http' },
    timeoutMs: 600,
    intervalMs: 50,
    upForMs: 0,
  };
  return {
    app,
    release,
    releaseHash: `${app}-${release}`,
    dir: writeSampleRelease(home, app, release),
    env,
    formation: {},
    processes: { nf: sampleProcess(httpPort, await freePort('udp'), { health }) },
  };
}

beforeAll(async () => {
  goodPort = await freePort('tcp');
  badPort = await freePort('tcp');
  ledger.add(await spec('good', 'v1', goodPort, {}));
  ledger.add(await spec('bad', 'v1', badPort, { HEALTHY: '0' }));
  ledger.add(await spec('bad', 'v2', badPort, { GREETING: 'fixed' }));
  ledger.add(await spec('thief', 'v1', goodPort, {}));
  ledger.current.set('good', 'v1');
  ledger.current.set('bad', 'v1');
  ({ client, done } = await startInProcess(ledger.deps(home)));
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

describe('resume', () => {
  it('resumes every desired release; an unhealthy one keeps running, and nothing is recorded', async () => {
    const ps = await waitFor(async () => {
      const rows = await client.request<ProcessInfo[]>('ps');
      const bad = rows.find((p) => p.app === 'bad');
      return rows.find((p) => p.app === 'good')?.state === 'healthy' && bad?.state === 'running' ? rows : null;
    }, 10_000);
    expect(ps.map((p) => `${p.app} ${p.release}`)).toEqual(['bad v1', 'good v1']);
    expect(ps[0]?.pid).not.toBeNull();
    expect(ledger.events).toEqual([]);
    expect(
      ledger.logLines.some((l) =>
        /bad: v1 is not healthy after resume .*HTTP 503.*keeping it under its restart policy/.test(l),
      ),
    ).toBe(true);
    const st = await client.request<Array<{ app: string; allUp: boolean; allHealthy: boolean }>>('status');
    expect(st.map((s) => [s.app, s.allUp, s.allHealthy])).toEqual([
      ['bad', true, false],
      ['good', true, true],
    ]);
  });

  it('switches the unhealthy app to a fixed release', async () => {
    await expect(client.request('switch', { app: 'bad', release: 'v2' })).resolves.toMatchObject({
      release: 'v2',
      from: 'v1',
    });
    expect(JSON.parse((await httpGet(badPort)).body)).toMatchObject({ release: 'v2', greeting: 'fixed' });
  });

  it('refuses a port another app holds', async () => {
    const e = await client.request('switch', { app: 'thief', release: 'v1' }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'switch_failed', message: expect.stringMatching(/is held for app good/) });
    expect(ledger.eventsOf('thief')).toEqual(['switch-started v1', 'failed v1']);
    expect(JSON.parse((await httpGet(goodPort)).body)).toMatchObject({ release: 'v1' });
  });
});

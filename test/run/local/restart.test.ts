/**
 * Crashed processes come back: the first restart at once, later ones with a doubling back-off,
 * and only as the restart policy allows. Real processes, real signals.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthSpec, ProcessSpec } from '../../../src/core/types.js';
import type { SupervisorClient } from '../../../src/run/local/client.js';
import type { ProcessInfo } from '../../../src/run/types.js';
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
let httpPort: number;
const upFor100: HealthSpec = { check: null, timeoutMs: 5_000, intervalMs: 50, upForMs: 100 };
const shell = (command: string, restart: ProcessSpec['restart']): ProcessSpec => ({
  command,
  scale: 1,
  ports: [],
  health: upFor100,
  graceMs: 1_000,
  restart,
});

const ps = (app: string) => client.request<ProcessInfo[]>('ps', { app });
const one = async (app: string, type: string) => (await ps(app)).find((p) => p.type === type) as ProcessInfo;

beforeAll(async () => {
  httpPort = await freePort('tcp');
  const udpPort = await freePort('udp');
  ledger.add({
    app: 'nf',
    release: 'v1',
    releaseHash: 'h1',
    dir: writeSampleRelease(home, 'nf', 'v1'),
    env: {},
    processes: { nf: sampleProcess(httpPort, udpPort) },
    formation: {},
  });
  // A process that survives its health gate, then crashes; every later incarnation crashes at once.
  // Each start appends the time in ms to `starts`, so the test can read the back-off from the file.
  const crashDir = writeSampleRelease(home, 'crashy', 'v1');
  const crashCmd =
    'echo $(($(date +%s%N)/1000000)) >> starts; if [ -e started ]; then exit 1; fi; touch started; sleep 0.3; exit 1';
  ledger.add({
    app: 'crashy',
    release: 'v1',
    releaseHash: 'hc',
    dir: crashDir,
    env: {},
    processes: { loop: shell(crashCmd, 'always') },
    formation: {},
  });
  const pDir = writeSampleRelease(home, 'policy', 'v1');
  ledger.add({
    app: 'policy',
    release: 'v1',
    releaseHash: 'hp',
    dir: pDir,
    env: {},
    formation: {},
    processes: {
      never: shell('sleep 0.3; exit 1', 'never'),
      okexit: shell('sleep 0.3; exit 0', 'on-failure'),
      // Fails once after its gate, then stays up.
      onfail: shell('if [ -e onfail-ran ]; then exec sleep 60; fi; touch onfail-ran; sleep 0.3; exit 2', 'on-failure'),
    },
  });
  ({ client, done } = await startInProcess(ledger.deps(home), {
    backoffBaseMs: 200,
    backoffCapMs: 800,
    stableMs: 10_000,
  }));
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

describe('restarts', () => {
  it('restarts a killed process at once, while connections wait in the held socket', async () => {
    await client.request('switch', { app: 'nf', release: 'v1' });
    const before = await one('nf', 'nf');
    expect(before).toMatchObject({ state: 'healthy', restarts: 0, lastExit: null });
    const t0 = performance.now();
    process.kill(before.pid as number, 'SIGKILL');
    // Sent while no process accepts: it must wait in the accept queue, not be refused.
    const during = httpGet(httpPort);
    const after = await waitFor(
      async () => {
        const p = await one('nf', 'nf');
        return p.pid !== null && p.pid !== before.pid ? p : null;
      },
      5_000,
      2,
    );
    const spawnMs = performance.now() - t0;
    const answer = await during;
    const serveMs = performance.now() - t0;
    process.stderr.write(
      `restart latency: new pid visible in ps after ${spawnMs.toFixed(1)} ms, request held during the crash answered after ${serveMs.toFixed(1)} ms\n`,
    );
    expect(spawnMs).toBeLessThan(100);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).pid).toBe(after.pid);
    expect(after.restarts).toBe(1);
    expect(after.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    await waitFor(async () => (await one('nf', 'nf')).state === 'healthy', 5_000);
  });

  it('backs off 0, 200, 400, 800, 800 ms between crashes and shows it in ps', async () => {
    await client.request('switch', { app: 'crashy', release: 'v1' });
    const file = path.join(home.releases, 'crashy', 'v1', 'starts');
    const starts = await waitFor(() => {
      const t = readFileSync(file, 'utf8').trim().split('\n').map(Number);
      return t.length >= 7 ? t : null;
    }, 15_000);
    // Gaps between starts: the process's own run time (0.3 s for the first, ~0 after) plus the delay.
    const gaps = starts.slice(1, 7).map((t, i) => t - (starts[i] as number));
    process.stderr.write(`crash loop: gaps between starts (ms): ${gaps.join(', ')}\n`);
    const expected = [300 + 0, 200, 400, 800, 800, 800];
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual((expected[i] as number) - 5);
      expect(g).toBeLessThan((expected[i] as number) + 250);
    });
    const p = await one('crashy', 'loop');
    expect(p.restarts).toBeGreaterThanOrEqual(6);
    expect(p.lastExit).toMatchObject({ code: 1, signal: null, at: expect.stringMatching(/^\d{4}-/) });
    expect(['backoff', 'starting', 'failed']).toContain(p.state);
    await waitFor(async () => (await one('crashy', 'loop')).state === 'backoff', 3_000, 5);
  });

  it('follows the restart policies never and on-failure', async () => {
    await client.request('switch', { app: 'policy', release: 'v1' });
    await new Promise((r) => setTimeout(r, 1_200));
    const rows = Object.fromEntries((await ps('policy')).map((p) => [p.type, p]));
    expect(rows.never).toMatchObject({ state: 'failed', restarts: 0, pid: null, lastExit: { code: 1 } });
    expect(rows.okexit).toMatchObject({ state: 'exited', restarts: 0, pid: null, lastExit: { code: 0 } });
    expect(rows.onfail).toMatchObject({ restarts: 1, lastExit: { code: 2 } });
    expect(rows.onfail?.pid).not.toBeNull();
  });

  it('writes each start and exit into the process log', () => {
    const log = readFileSync(path.join(home.logs, 'nf', 'nf.1.log'), 'utf8');
    expect(log).toMatch(/--- brr: nf\.1 v1 started, pid \d+, at .* ---/);
    expect(log).toMatch(/--- brr: nf\.1 exited with signal SIGKILL ---/);
    expect(log).toMatch(/--- brr: nf\.1 v1 started, pid \d+ \(restart 1\)/);
    expect(log).toMatch(/nf v1 pid \d+ serving/);
  });
});

/**
 * Issue 10, finding 7: a supervisor killed with SIGKILL is replaced without restarting the apps.
 * The new supervisor adopts the processes of the current release (same pids, no health wait),
 * takes the public sockets and the output pipes back from the fd holder, and can then restart a
 * process and switch to another release on the same sockets. An `fds` app answers every HTTP
 * request and UDP datagram throughout: its processes keep the sockets while no supervisor runs.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSupervisor, supervisorLogPath } from '../../../src/run/local/client.js';
import { isLive, readProcStat } from '../../../src/core/proc.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import {
  freePort,
  httpGet,
  liveMarkedPids,
  portsBindable,
  sampleProcess,
  tempHome,
  waitFor,
  writeSampleRelease,
} from './helpers/fixture.js';
import { compileBrr, FileLedgerDouble, launcherArgv } from './helpers/launcher.js';
import { startHttpLoad, startUdpLoad } from './helpers/load.js';
import path from 'node:path';

const home = tempHome();
const ledger = new FileLedgerDouble(path.join(home.root, 'ledger-double.json'));
let argv: string[];
let dist: string;
let httpPort: number;
let udpPort: number;
let lastPid: number | null = null;

beforeAll(async () => {
  dist = compileBrr();
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
  const releases: RunSpec[] = ['v1', 'v2'].map((v) => ({
    app: 'upf',
    release: v,
    releaseHash: `hash-${v}`,
    dir: writeSampleRelease(home, 'upf', v),
    env: { GREETING: v },
    processes: { nf: sampleProcess(httpPort, udpPort, { scale: 2, graceMs: 3_000 }) },
    formation: {},
  }));
  ledger.write(releases, { upf: 'v1' });
  argv = launcherArgv(home.root, dist, home.root, ledger, { stopGraceCapMs: 3_000 });
}, 120_000);

afterAll(async () => {
  if (lastPid !== null && isLive(readProcStat(lastPid))) {
    process.kill(lastPid, 'SIGTERM');
    await waitFor(() => !isLive(readProcStat(lastPid as number)), 10_000).catch(() => {});
  }
  rmSync(dist, { recursive: true, force: true });
  rmSync(home.root, { recursive: true, force: true });
});

const pidsOf = (ps: ProcessInfo[]) => ps.map((p) => p.pid as number).sort((a, b) => a - b);

describe('supervisor restart', () => {
  it('adopts the running processes across two SIGKILLs: same pids, no request lost, then restarts and switches', async () => {
    let client = await ensureSupervisor(home, argv);
    await client.request('switch', { app: 'upf', release: 'v1' });
    const before = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
    expect(before.every((p) => p.state === 'healthy')).toBe(true);

    const http = startHttpLoad(httpPort, { keepAlive: false, concurrency: 2 });
    const udp = startUdpLoad(udpPort, { intervalMs: 20, perTick: 2 });
    const gaps: number[] = [];
    for (let round = 0; round < 2; round++) {
      const { pid } = await client.request<{ pid: number }>('ping');
      client.close();
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !isLive(readProcStat(pid)), 10_000, 10);
      // Serving on without any supervisor for a moment.
      await new Promise((r) => setTimeout(r, 300));
      client = await ensureSupervisor(home, argv);
      gaps.push(Date.now() - t0);
      const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
      expect(pidsOf(ps)).toEqual(pidsOf(before));
      expect(ps.every((p) => p.state === 'healthy' && p.release === 'v1')).toBe(true);
      lastPid = (await client.request<{ pid: number }>('ping')).pid;
    }
    const httpStats = await http.stop();
    const udpStats = await udp.stop();
    process.stderr.write(
      `supervisor absent (kill → new one answering) ms: ${gaps.join(', ')}; http ok ${httpStats.ok} failed ${httpStats.failed}; udp sent ${udpStats.sent} lost ${udpStats.lost.length}\n`,
    );
    expect(httpStats.errors).toEqual([]);
    expect(httpStats.ok).toBeGreaterThan(0);
    expect(udpStats.lost).toEqual([]);
    expect(readFileSync(supervisorLogPath(home), 'utf8')).toMatch(/adopted 2 running process\(es\) of v1/);
    // Output of the adopted processes still reaches the log (the pipes came back from the holder).
    expect(liveMarkedPids(home)).toEqual(pidsOf(before));

    // An adopted process that dies is restarted on the sockets taken back from the holder.
    process.kill(before[0]?.pid as number, 'SIGKILL');
    await waitFor(async () => {
      const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
      return (
        ps.length === 2 && ps.every((p) => p.state === 'healthy') && !pidsOf(ps).includes(before[0]?.pid as number)
      );
    }, 20_000);

    // And a switch works on the same sockets.
    const http2 = startHttpLoad(httpPort, { keepAlive: false, concurrency: 2 });
    await client.request('switch', { app: 'upf', release: 'v2' });
    const s2 = await http2.stop();
    expect(s2.errors).toEqual([]);
    expect(JSON.parse((await httpGet(httpPort)).body).release).toBe('v2');

    await client.request('shutdown');
    client.close();
    await waitFor(() => liveMarkedPids(home).length === 0, 10_000);
    expect(await portsBindable(httpPort, udpPort)).toBe(true);
  }, 120_000);
});

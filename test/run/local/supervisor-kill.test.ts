/**
 * The supervisor is killed with SIGKILL at random moments, mostly in the middle of switches,
 * and started again each time (by ensureSupervisor, as the CLI does). Every time it must
 * converge on the ledger's current release with no orphaned process and no stray holder of the
 * ports; at the end SIGTERM stops it gracefully and the ports are free.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSupervisor, supervisorLogPath, type SupervisorClient } from '../../../src/run/local/client.js';
import { isLive, readProcStat } from '../../../src/core/proc.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import {
  freePort,
  liveMarkedPids,
  portsBindable,
  sampleProcess,
  tempHome,
  waitFor,
  writeSampleRelease,
} from './helpers/fixture.js';
import { compileBrr, FileLedgerDouble, launcherArgv } from './helpers/launcher.js';

const home = tempHome();
const ledger = new FileLedgerDouble(path.join(home.root, 'ledger-double.json'));
let argv: string[];
let httpPort: number;
let udpPort: number;
const healthy = ['v1', 'v2', 'v3'];
let lastPid: number | null = null;
let dist: string;

beforeAll(async () => {
  dist = compileBrr();
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
  const releases: RunSpec[] = [...healthy, 'v4'].map((v) => ({
    app: 'upf',
    release: v,
    releaseHash: `hash-${v}`,
    dir: writeSampleRelease(home, 'upf', v),
    env: (v === 'v4' ? { HEALTHY: '0' } : { GREETING: v }) as Record<string, string>,
    processes: {
      nf: sampleProcess(httpPort, udpPort, {
        scale: 2,
        health: {
          check: { kind: 'http', path: '/healthz', port: 'http' },
          timeoutMs: v === 'v4' ? 800 : 10_000,
          intervalMs: 50,
          upForMs: 0,
        },
      }),
    },
    formation: {},
  }));
  ledger.write(releases, { upf: 'v1' });
  argv = launcherArgv(home.root, dist, home.root, ledger, { stopGraceCapMs: 2_000 });
}, 120_000);

afterAll(async () => {
  if (lastPid !== null && isLive(readProcStat(lastPid))) {
    process.kill(lastPid, 'SIGTERM');
    await waitDead(lastPid).catch(() => {});
  }
  rmSync(dist, { recursive: true, force: true });
  rmSync(home.root, { recursive: true, force: true });
});

/** Waits until the app runs exactly the ledger's current release, healthy, and nothing else of this home lives. */
async function converge(client: SupervisorClient): Promise<ProcessInfo[]> {
  return waitFor(
    async () => {
      const want = ledger.current('upf');
      const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
      if (ps.length !== 2 || !ps.every((p) => p.release === want && p.state === 'healthy')) return null;
      const pids = ps.map((p) => p.pid as number).sort((a, b) => a - b);
      return JSON.stringify(liveMarkedPids(home)) === JSON.stringify(pids) ? ps : null;
    },
    20_000,
    50,
  );
}

async function waitDead(pid: number): Promise<void> {
  await waitFor(() => !isLive(readProcStat(pid)), 10_000, 10);
}

describe('SIGKILL of the supervisor', () => {
  it('converges on the desired release after each of 12 kills, with no orphans', async () => {
    let orphansSeen = 0;
    const outcomes: string[] = [];
    for (let round = 0; round < 12; round++) {
      const client = await ensureSupervisor(home, argv);
      const { pid } = await client.request<{ pid: number }>('ping');
      lastPid = pid;
      if (round % 4 === 1) {
        // Killed while resuming: the next round's convergence checks the recovery.
        const delay = Math.floor(Math.random() * 300);
        await new Promise((r) => setTimeout(r, delay));
        process.kill(pid, 'SIGKILL');
        await waitDead(pid);
        outcomes.push(`killed ${delay} ms after start, while resuming`);
        client.close();
        orphansSeen += liveMarkedPids(home).length;
        continue;
      }
      const ps = await converge(client);
      const current = ps[0]?.release as string;
      // Mostly healthy targets; every fourth round the unhealthy v4, killed during or after its failure.
      const choices = round % 4 === 3 ? ['v4'] : healthy.filter((v) => v !== current);
      const target = choices[Math.floor(Math.random() * choices.length)] as string;
      const delay = Math.floor(Math.random() * 900);
      const answer = client.request('switch', { app: 'upf', release: target }).then(
        () => 'answered ok',
        (e: { code?: string }) => e.code ?? 'error',
      );
      await new Promise((r) => setTimeout(r, delay));
      process.kill(pid, 'SIGKILL');
      await waitDead(pid);
      const outcome = await answer;
      outcomes.push(
        `${current}→${target}, killed after ${delay} ms: ${outcome === 'supervisor_unreachable' ? 'killed before answering' : outcome}`,
      );
      client.close();
      orphansSeen += liveMarkedPids(home).length;
    }
    process.stderr.write(
      `kill rounds:\n  ${outcomes.join('\n  ')}\nlive children orphaned by the kills, summed over rounds: ${orphansSeen}\n`,
    );

    const client = await ensureSupervisor(home, argv);
    const { pid } = await client.request<{ pid: number }>('ping');
    const ps = await converge(client);
    expect(ps.every((p) => p.release === ledger.current('upf'))).toBe(true);
    const log = readFileSync(supervisorLogPath(home), 'utf8');
    const cleaned = log.match(/stopping \d+ orphaned process group/g) ?? [];
    process.stderr.write(`orphan clean-ups logged: ${cleaned.length}\n`);
    expect(orphansSeen).toBeGreaterThan(0);
    expect(cleaned.length).toBeGreaterThan(0);

    // Events: resume records nothing, so every outcome follows a switch-started of its release.
    const events = ledger.events();
    events.forEach((e, i) => {
      if (e.type === 'activated')
        expect(
          events
            .slice(0, i)
            .reverse()
            .find((x) => x.type === 'switch-started')?.release,
        ).toBe(e.release);
    });
    expect(events.filter((e) => e.type === 'switch-started').length).toBeLessThanOrEqual(12);

    // SIGTERM: a graceful stop of everything, then the ports are free.
    process.kill(pid, 'SIGTERM');
    await waitDead(pid);
    await waitFor(() => liveMarkedPids(home).length === 0, 10_000);
    expect(await portsBindable(httpPort, udpPort)).toBe(true);
    expect(readFileSync(supervisorLogPath(home), 'utf8')).toMatch(/SIGTERM: shutting down[\s\S]*supervisor stopped/);
  }, 240_000);
});

/**
 * Issue 10, finding 2: a process that daemonizes (`setsid`, leaving its process group) and
 * inherits the shared sockets must stop with its release at a switch and at shutdown, under both
 * containment mechanisms: a cgroup per instance (where one can be made) and the environment
 * marker. A process carrying the home's marker that the supervisor does not own is reported as a
 * stray by the `problems` op.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOME_MARKER_VAR } from '../../../src/run/local/launch-plan.js';
import { isLive, listProcesses, readProcStat } from '../../../src/core/proc.js';
import type { SupervisorProblems } from '../../../src/run/local/supervisor.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import { missingTool } from '../../helpers/tools.js';
import {
  freePort,
  httpGet,
  InMemoryLedgerDouble,
  liveMarkedPids,
  portsBindable,
  sampleProcess,
  startInProcess,
  tempHome,
  waitFor,
  writeSampleRelease,
} from './helpers/fixture.js';

const noSetsid = missingTool('setsid');
let httpPort: number;
let udpPort: number;

beforeAll(async () => {
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
});

/** Marked processes that lead a process group of their own but are no process `ps` lists: the daemons. */
function daemonsOf(marked: number[], supervised: ProcessInfo[]): number[] {
  const known = new Set(supervised.map((p) => p.pid));
  return listProcesses()
    .filter((p) => marked.includes(p.pid) && p.pgrp === p.pid && !known.has(p.pid))
    .map((p) => p.pid);
}

for (const mechanism of ['cgroup', 'marker'] as const) {
  describe.skipIf(!!noSetsid)(`daemonizing children (${mechanism})`, () => {
    const home = tempHome();
    const ledger = new InMemoryLedgerDouble();
    const saved = process.env.BRR_CONTAINMENT;
    let stray: ReturnType<typeof spawn> | null = null;

    afterAll(() => {
      if (saved === undefined) delete process.env.BRR_CONTAINMENT;
      else process.env.BRR_CONTAINMENT = saved;
      if (stray?.pid && isLive(readProcStat(stray.pid))) stray.kill('SIGKILL');
      rmSync(home.root, { recursive: true, force: true });
    });

    it('stops a setsid daemon with its release at a switch and at shutdown, and reports strays', async () => {
      if (mechanism === 'marker') process.env.BRR_CONTAINMENT = 'marker';
      else delete process.env.BRR_CONTAINMENT;
      for (const v of ['v1', 'v2'])
        ledger.add({
          app: 'upf',
          release: v,
          releaseHash: `h-${v}`,
          dir: writeSampleRelease(home, 'upf', v),
          env: { GREETING: v },
          // The daemon leaves the group and keeps the inherited sockets (fds 3, 4) open.
          processes: {
            nf: sampleProcess(httpPort, udpPort, {
              command: 'setsid sh -c "sleep 600" </dev/null >/dev/null 2>&1 & exec node nf.mjs',
              graceMs: 2_000,
            }),
          },
          formation: {},
        } satisfies RunSpec);
      const { client, done } = await startInProcess(ledger.deps(home), { stopGraceCapMs: 2_000 });
      try {
        const problems = await client.request<SupervisorProblems>('problems');
        if (mechanism === 'marker') expect(problems.containment).toBe('marker');
        else if (process.getuid?.() === 0) expect(problems.containment).toBe('cgroup');

        await client.request('switch', { app: 'upf', release: 'v1' });
        const v1Daemons = await waitFor(async () => {
          const d = daemonsOf(liveMarkedPids(home), await client.request<ProcessInfo[]>('ps'));
          return d.length === 1 ? d : null;
        }, 10_000);
        // Nothing is a stray: the daemon belongs to v1's running instance.
        expect((await client.request<SupervisorProblems>('problems')).strays).toEqual([]);

        await client.request('switch', { app: 'upf', release: 'v2' });
        expect(JSON.parse((await httpGet(httpPort)).body).release).toBe('v2');
        // v1's daemon is gone with v1; v2's own daemon runs.
        expect(isLive(readProcStat(v1Daemons[0] as number))).toBe(false);

        // A process with the home's marker that the supervisor does not own is a stray.
        stray = spawn('sleep', ['600'], {
          env: { PATH: process.env.PATH, [HOME_MARKER_VAR]: home.root, BRR_APP: 'upf', BRR_RELEASE: 'v0' },
          stdio: 'ignore',
        });
        const strays = await waitFor(async () => {
          const s = (await client.request<SupervisorProblems>('problems')).strays;
          return s.length > 0 ? s : null;
        }, 5_000);
        expect(strays).toEqual([{ pid: stray.pid, app: 'upf', release: 'v0', instance: null, via: 'marker' }]);

        await client.request('shutdown');
        await done;
      } finally {
        client.close();
      }
      // Shutdown stopped every process of the home, daemons and strays included, and the ports are free.
      expect(liveMarkedPids(home)).toEqual([]);
      expect(await portsBindable(httpPort, udpPort)).toBe(true);
    }, 60_000);
  });
}

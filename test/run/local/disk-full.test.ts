/**
 * Issue 10, finding 1: with the brr home on a full filesystem (a real tmpfs, filled to ENOSPC),
 * a crash, a restart and a whole switch must not end the supervisor: it keeps supervising from
 * memory, reports the failing writes through the `problems` op (what `brr ps`/`brr status`
 * print), and once space is back it writes children.json again and the report clears.
 * Needs root (mount); skipped with a visible reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenFilePath } from '../../../src/run/local/children-file.js';
import type { SupervisorProblems } from '../../../src/run/local/supervisor.js';
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

function whyNoTmpfs(): string | null {
  if (process.getuid?.() !== 0) {
    if (process.env.BRR_REQUIRE_TOOLS === '1')
      throw new Error('disk-full test needs root to mount a tmpfs (BRR_REQUIRE_TOOLS=1)');
    const reason = 'not root: cannot mount a tmpfs to fill; skipping the disk-full test';
    process.stderr.write(`SKIP: ${reason}\n`);
    return reason;
  }
  return null;
}

const skip = whyNoTmpfs();
const home = tempHome();
let mounted = false;

beforeAll(() => {
  if (skip) return;
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', home.root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs failed: ${r.stderr}`);
  mounted = true;
});

afterAll(() => {
  if (mounted) spawnSync('umount', ['-l', home.root]);
  rmSync(home.root, { recursive: true, force: true });
});

/** Writes zeros into `file` until the filesystem says ENOSPC (bounded by the tmpfs size). */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let i = 0; i < 1_000; i++) writeSync(fd, chunk);
    throw new Error('the filesystem never filled up');
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!!skip)('a full disk under the supervisor', () => {
  it('keeps supervising through a crash and a switch, reports the failed writes, recovers', async () => {
    const httpPort = await freePort('tcp');
    const udpPort = await freePort('udp');
    const ledger = new InMemoryLedgerDouble();
    for (const v of ['v1', 'v2'])
      ledger.add({
        app: 'upf',
        release: v,
        releaseHash: `h-${v}`,
        dir: writeSampleRelease(home, 'upf', v),
        env: { GREETING: v },
        processes: { nf: sampleProcess(httpPort, udpPort, { scale: 2, graceMs: 2_000 }) },
        formation: {},
      } satisfies RunSpec);
    const { client, done } = await startInProcess(ledger.deps(home), {
      stopGraceCapMs: 2_000,
      backoffBaseMs: 50,
    });
    const filler = path.join(home.root, 'filler');
    try {
      await client.request('switch', { app: 'upf', release: 'v1' });
      fill(filler);

      // A crash: the exit and the restart each rewrite children.json, which now fails.
      const before = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
      process.kill(before[0]?.pid as number, 'SIGKILL');
      const faults = await waitFor(async () => {
        const p = await client.request<SupervisorProblems>('problems');
        return p.writeFaults.some((f) => f.what === 'children-file' && f.code === 'ENOSPC') ? p.writeFaults : null;
      }, 10_000);
      expect(faults.find((f) => f.what === 'children-file')?.path).toBe(childrenFilePath(home.run));
      await waitFor(async () => {
        const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
        return ps.length === 2 && ps.every((p) => p.state === 'healthy') && ps[0]?.pid !== before[0]?.pid;
      }, 15_000);

      // A whole switch with the disk still full.
      await client.request('switch', { app: 'upf', release: 'v2' });
      expect(JSON.parse((await httpGet(httpPort)).body).release).toBe('v2');
      expect((await client.request<SupervisorProblems>('problems')).writeFaults.length).toBeGreaterThan(0);

      // Space is back: the retry writes children.json again and its report clears (a log's
      // report clears with the next line written to that log).
      rmSync(filler);
      await waitFor(
        async () =>
          !(await client.request<SupervisorProblems>('problems')).writeFaults.some((f) => f.what === 'children-file'),
        20_000,
        100,
      );
      const ps = await client.request<ProcessInfo[]>('ps', { app: 'upf' });
      const recorded = (
        JSON.parse(readFileSync(childrenFilePath(home.run), 'utf8')) as { children: { pid: number }[] }
      ).children.map((c) => c.pid);
      expect(recorded.sort()).toEqual(ps.map((p) => p.pid).sort());

      await client.request('shutdown');
      await done;
    } finally {
      rmSync(filler, { force: true });
      client.close();
    }
  }, 90_000);
});

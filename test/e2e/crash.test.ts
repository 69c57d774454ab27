import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRR, pidsWithHome, Sandbox } from './harness.js';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('the supervisor is killed and started again', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    await sb.ok(['build']);
    await sb.ok(['release']);
    await sb.ok(['config', 'set', 'GREETING=second']);
    await sb.ok(['run', 'v1']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('a crashed process is restarted and the restart shows in ps', async () => {
    const before = JSON.parse((await sb.get('/')).body) as { pid: number };
    process.kill(before.pid, 'SIGKILL');
    const after = await waitFor('restart', async () => {
      const b = JSON.parse((await sb.get('/')).body) as { pid: number };
      return b.pid !== before.pid ? b : undefined;
    });
    expect(after.pid).not.toBe(before.pid);
    const ps = await sb.json<Array<{ restarts: number; lastExit: { signal: string | null } | null }>>(['ps']);
    expect(ps[0]!.restarts).toBe(1);
    expect(ps[0]!.lastExit?.signal).toBe('SIGKILL');
  });

  it('SIGKILL of the supervisor, then `brr supervise`, adopts the running process: same pid, no orphans', async () => {
    const pid = Number(readFileSync(path.join(sb.home, 'run', 'supervisor.pid'), 'utf8').split(/\s+/)[0]);
    const oldChild = (JSON.parse((await sb.get('/')).body) as { pid: number }).pid;
    process.kill(pid, 'SIGKILL');
    const sup = spawn(process.execPath, [BRR, 'supervise', '--home', sb.home], { stdio: 'ignore', detached: true });
    sup.unref();
    // Issue 10 finding 7: the new supervisor takes the process over instead of restarting it.
    await waitFor('status in sync', async () => ((await sb.brr(['status'])).code === 0 ? true : undefined));
    const back = JSON.parse((await sb.get('/')).body) as { pid: number; release: string };
    expect(back).toMatchObject({ pid: oldChild, release: 'v1' });
    const ps = await sb.json<Array<{ pid: number; state: string }>>(['ps']);
    expect(ps.map((p) => [p.pid, p.state])).toEqual([[oldChild, 'healthy']]);
    expect(pidsWithHome(sb.home)).not.toContain(pid);
  });
});

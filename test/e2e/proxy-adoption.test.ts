/**
 * A proxied app (`handoff: proxy`, the default) across a SIGKILL of its supervisor, through the
 * real CLI: the new `brr supervise` adopts the running process (same pid, no health wait), binds
 * the public port again and forwards to the private port recorded for the process; a config
 * change afterwards switches as usual, and shutdown leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BRR, pidsWithHome, Sandbox } from './harness.js';

const APP = `require('http')
  .createServer((req, res) => res.end(JSON.stringify({ release: process.env.BRR_RELEASE, pid: process.pid })))
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let sb: Sandbox | null = null;
afterAll(async () => {
  await sb?.cleanup();
});

describe('a proxied app survives a SIGKILL of its supervisor', () => {
  it('the next supervisor adopts the process and forwards to it again', { timeout: 120_000 }, async () => {
    sb = await Sandbox.withFiles(() => ({ 'server.js': APP, Procfile: 'web: node server.js\n' }));
    const s = sb;
    s.env.BRR_APP = 'px';
    await s.ok(['config', 'set', `PORT=${s.httpPort}`]);
    await s.ok(['deploy']);
    const before = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
    expect(before.release).toBe('v1');
    const children = JSON.parse(readFileSync(path.join(s.home, 'run', 'children.json'), 'utf8')) as {
      children: Array<{ pid: number; privatePorts?: Record<string, number> }>;
    };
    expect(children.children.find((c) => c.pid === before.pid)?.privatePorts?.web).toBeGreaterThan(0);

    const sup = Number(readFileSync(path.join(s.home, 'run', 'supervisor.pid'), 'utf8').split(/\s+/)[0]);
    process.kill(sup, 'SIGKILL');
    const next = spawn(process.execPath, [BRR, 'supervise', '--home', s.home], { stdio: 'ignore', detached: true });
    next.unref();
    const after = await waitFor('the public port to answer again', async () => {
      const r = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
      return r.pid ? r : undefined;
    });
    expect(after).toEqual({ pid: before.pid, release: 'v1' });
    const ps = await s.json<Array<{ pid: number; state: string }>>(['ps']);
    expect(ps.map((p) => [p.pid, p.state])).toEqual([[before.pid, 'healthy']]);
    expect((await s.brr(['status'])).code).toBe(0);
    expect(pidsWithHome(s.home)).not.toContain(sup);

    await s.ok(['config', 'set', 'X=1']);
    const v2 = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
    expect(v2.release).toBe('v2');
    expect(v2.pid).not.toBe(before.pid);
  });
});

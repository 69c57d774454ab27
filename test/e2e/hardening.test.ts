import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsWithHome, Sandbox, type CliResult } from './harness.js';

/**
 * Issue 10, findings 3, 4 and 5 as a user meets them, through the real CLI on a fresh home
 * whose path is over 200 bytes: a health check slower than 1 s per try, durations longer than a
 * timer holds, and a home too long for a Unix socket path.
 */

describe('a 200-byte BRR_HOME, slow health checks and overlong durations', () => {
  let sb: Sandbox;
  let home: string;
  let yml: string;
  const brr = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    sb.brr(args, { env: { BRR_HOME: home, ...env } });
  const ok = async (args: string[]): Promise<CliResult> => {
    const r = await brr(args);
    if (r.code !== 0) throw new Error(`brr ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  beforeAll(async () => {
    sb = await Sandbox.create();
    home = path.join(sb.dir, 'h'.repeat(200));
    yml = readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8');
  });
  afterAll(async () => {
    await brr(['shutdown']);
    await sb.cleanup();
  });

  it('refuses a duration longer than a timer holds, naming the key (exit 2): brr.yaml, flags, environment', async () => {
    sb.commit('brr.yaml', yml.replace('grace: 5s', 'grace: 600h'), 'grace of 25 days');
    const build = await brr(['build']);
    expect(build.code).toBe(2);
    expect(build.stderr).toContain('processes.nf.grace: "600h" is longer than the 596h (about 24.8 days) brr can wait');
    sb.commit('brr.yaml', yml.replace('timeout: 15s', 'timeout: 2147484s'), 'health timeout just over');
    expect((await brr(['build'])).stderr).toContain('processes.nf.health.timeout: "2147484s" is longer than the 596h');

    const wait = await brr(['config', 'set', 'A=1', '--wait', '700h', '--json']);
    expect(wait.code).toBe(2);
    expect(JSON.parse(wait.stdout).error).toMatchObject({ code: 'duration_invalid' });
    expect(wait.stderr).toContain('--wait: "700h" is longer than the 596h');
    const timeout = await brr(['run', '--timeout', '9999h']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout: "9999h" is longer than the 596h');
    const ttl = await brr(['config', 'set', 'A=1'], { BRR_LEASE_TTL: '1000h' });
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('BRR_LEASE_TTL: "1000h" is longer than the 596h');
    // Nothing was written by any of them.
    expect(JSON.parse((await ok(['releases', '--json'])).stdout)).toEqual([]);
  });

  it('deploys under the long home: an exec health check of 2 s per try passes, the socket stays in the home', async () => {
    sb.commit(
      'brr.yaml',
      yml.replace('health: { http: /healthz, port: http, timeout: 15s }', 'health: { exec: "sleep 2", timeout: 20s }'),
      'slow exec health check',
    );
    const deploy = await ok(['deploy']);
    expect(deploy.stdout + deploy.stderr).toContain('udp-counter v1 is running');
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v1' });
    expect(JSON.parse((await ok(['status', '--json'])).stdout)).toEqual([
      expect.objectContaining({ app: 'udp-counter', ledger: 'v1', running: 'v1', inSync: true }),
    ]);
    // The socket is inside the home; nothing was created beside it (a truncated path would be).
    expect(Buffer.byteLength(path.join(home, 'run', 'supervisor.sock'))).toBeGreaterThan(108);
    expect(existsSync(path.join(home, 'run', 'supervisor.sock'))).toBe(true);
    expect(readdirSync(sb.dir).sort()).toEqual([path.basename(home), 'repo'].sort());

    const down = await ok(['shutdown']);
    expect(down.stdout).toContain('supervisor stopped');
    // The supervisor answers before its process is gone: give it a moment to exit.
    for (let i = 0; i < 100 && pidsWithHome(home).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pidsWithHome(home)).toEqual([]);
    expect(existsSync(path.join(home, 'run', 'supervisor.sock'))).toBe(false);
  });
});

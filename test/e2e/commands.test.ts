/**
 * Issue 11, "commands that do what they say" (items 6, 7, 8, 9 and 13), through the real CLI:
 * a config change builds on the release that runs, listings piped into `head` exit quietly,
 * control characters in values and logs are printed escaped, homes are owner-only however they
 * are created, and the smaller items (nothing to deploy, --limit footer, already running,
 * unknown process type and app, manifest error path, ledger hint, supervisor without the key).
 */
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRR, Sandbox, TEST_SECRETS_KEY } from './harness.js';

/** Runs the CLI with its stdout closed by the reader at once, as `| head -0` does. */
function brrIntoClosedPipe(sb: Sandbox, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BRR, ...args], {
      cwd: sb.repo,
      env: { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1', BRR_SECRETS_KEY: TEST_SECRETS_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('commands that do what they say (issue 11)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('9: a home created by `brr build` is 0700 and its build logs 0600', async () => {
    await sb.ok(['build']);
    expect(mode(sb.home)).toBe(0o700);
    const logs = readdirSync(path.join(sb.home, 'build-logs'));
    expect(logs.length).toBeGreaterThan(0);
    for (const f of logs) expect(mode(path.join(sb.home, 'build-logs', f))).toBe(0o600);
    expect(mode(path.join(sb.home, 'build-logs'))).toBe(0o700);
    // A home an older brr left 0755 is tightened by the next command.
    chmodSync(sb.home, 0o755);
    await sb.ok(['releases']);
    expect(mode(sb.home)).toBe(0o700);
  });

  it('8: a newline or an ANSI escape in a value is printed escaped by `config` and `show`', async () => {
    await sb.ok(['config', 'set', 'A=1\nDEBUG=false', 'C=\x1b[31mred']);
    await sb.ok(['release']);
    const cfg = await sb.ok(['config']);
    expect(cfg.stdout.split('\n')).not.toContain('DEBUG=false');
    expect(cfg.stdout).toContain('A=1\\nDEBUG=false');
    expect(cfg.stdout).toContain('C=\\e[31mred');
    expect(cfg.stdout).not.toContain('\x1b');
    const show = await sb.ok(['show', 'v1']);
    expect(show.stdout.split('\n').map((l) => l.trim())).not.toContain('DEBUG=false');
    expect(show.stdout).not.toContain('\x1b');
    // --json stays exact.
    expect((await sb.json<Record<string, string>>(['config'])).A).toBe('1\nDEBUG=false');
  });

  it('9: run logs and the supervisor log are 0600', async () => {
    await sb.ok(['run']);
    const dir = path.join(sb.home, 'logs', 'udp-counter');
    for (const f of readdirSync(dir)) expect(mode(path.join(dir, f))).toBe(0o600);
    expect(mode(path.join(sb.home, 'logs'))).toBe(0o700);
    expect(mode(sb.home)).toBe(0o700);
  });

  it('13: running the release that already runs says so instead of "switch took 1 ms"', async () => {
    const r = await sb.ok(['run', 'v1']);
    expect(r.stdout).toContain('v1 is running (it was already running)');
  });

  it('6: after `brr run v1` leaves v2, `brr config` shows v1 and a config change builds on v1', async () => {
    await sb.ok(['config', 'set', 'OTHER=2']); // v2, runs
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v2' });
    await sb.ok(['run', 'v1']);
    const cfg = await sb.ok(['config']);
    expect(cfg.stdout).not.toContain('OTHER');
    expect(cfg.stderr).toContain('config of v1, which runs; v2 is newer but not running');
    const r = await sb.json<{ release: string; ran: boolean }>(['config', 'set', 'NEW=1']);
    expect(r).toMatchObject({ release: 'v3', ran: true });
    const v3 = await sb.json<{ config: Record<string, string> }>(['show', 'v3']);
    expect(v3.config).toHaveProperty('NEW', '1');
    expect(v3.config).not.toHaveProperty('OTHER');
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v3' });
  });

  it('13: `releases --limit N` prints the "* current" footer only when the current release is listed', async () => {
    await sb.ok(['config', 'set', 'LATER=1', '--no-run']); // v4, v3 runs
    const one = await sb.ok(['releases', '--limit', '1']);
    expect(one.stdout).not.toContain('* current release');
    expect(one.stdout).toContain('current release: v3 (not listed)');
    const two = await sb.ok(['releases', '--limit', '2']);
    expect(two.stdout).toContain('* current release');
    // v4 never ran: it is pending, and a change would build on it (and `brr config` says so).
    expect((await sb.ok(['config'])).stderr).toContain('a config change builds on v4, which never ran');
  });

  it('7: listings piped into a reader that went away exit quietly', async () => {
    writeFileSync(path.join(sb.home, 'logs', 'udp-counter', 'nf.1.log'), 'x\n'.repeat(200), { flag: 'a' });
    for (const args of [['releases'], ['audit'], ['builds'], ['show', 'v1'], ['logs', '-n', '100'], ['config']]) {
      const r = await brrIntoClosedPipe(sb, args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stderr).not.toMatch(/EPIPE|error|\n\s+at /);
    }
  });

  it('8: `brr logs` escapes control characters unless --raw', async () => {
    writeFileSync(path.join(sb.home, 'logs', 'udp-counter', 'fake.1.log'), 'plain\n\x1b[2Jcleared\r\n');
    const escaped = await sb.ok(['logs', '--process', 'fake']);
    expect(escaped.stdout).not.toContain('\x1b');
    expect(escaped.stdout).toContain('\\e[2Jcleared');
    const raw = await sb.ok(['logs', '--process', 'fake', '--raw']);
    expect(raw.stdout).toContain('\x1b[2Jcleared');
  });

  it('13: `logs --process nope` and `ps --app nope` are errors naming what exists', async () => {
    const logs = await sb.brr(['logs', '--process', 'nope']);
    expect(logs.code).toBe(2);
    expect(logs.stderr).toContain('no output of a process type "nope"');
    expect(logs.stderr).toContain('process types with output: fake, nf');
    const ps = await sb.brr(['ps', '--app', 'nope']);
    expect(ps.code).toBe(1);
    expect(ps.stderr).toContain('no app "nope" in the ledger');
    expect(ps.stderr).toContain('apps in this ledger: udp-counter');
  });

  it('13: a deploy that changes nothing appends nothing unless --force', async () => {
    await sb.ok(['run', 'v4']);
    writeFileSync(path.join(sb.repo, 'untracked.txt'), 'dirty tree\n');
    const before = (await sb.json<unknown[]>(['releases'])).length;
    const r = await sb.ok(['deploy']);
    expect(r.stdout).toContain('nothing to deploy: udp-counter v4 already has build');
    expect(r.stdout).toContain('and runs');
    expect((await sb.json<unknown[]>(['releases'])).length).toBe(before);
    const forced = await sb.ok(['deploy', '--force']);
    expect(forced.stdout).toContain('v5 is running');
  });

  it('13: `config set --secret` refuses before appending when the running supervisor lacks the key', async () => {
    await sb.ok(['shutdown']);
    await sb.ok(['run'], { BRR_SECRETS_KEY: '' }); // the supervisor starts without a key
    const before = (await sb.json<unknown[]>(['releases'])).length;
    const r = await sb.brr(['config', 'set', 'TOKEN=s3cr3t', '--secret']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the running supervisor has no secrets key');
    expect(r.stderr).toContain('brr shutdown');
    expect((await sb.json<unknown[]>(['releases'])).length).toBe(before);
    // --no-run only records it, as the hint says.
    await sb.ok(['config', 'set', 'TOKEN=s3cr3t', '--secret', '--no-run']);
  });
});

describe('error messages that name what the user knows (issue 11, item 13)', () => {
  it('a brr.yaml without processes is named as brr.yaml, not a temporary build path', async () => {
    const sb = await Sandbox.withFiles(() => ({ 'brr.yaml': 'app: empty\n', 'main.js': '' }));
    try {
      const r = await sb.brr(['build']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('brr.yaml at commit');
      expect(r.stderr).not.toContain(sb.home);
    } finally {
      await sb.cleanup();
    }
  });

  it('a damaged ledger points at `brr verify`, a command that exists', async () => {
    const sb = await Sandbox.create();
    try {
      await sb.ok(['config', 'set', 'A=1']);
      writeFileSync(path.join(sb.home, 'ledger.db'), Buffer.alloc(8192, 0x5a));
      const r = await sb.brr(['releases']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toContain('brr ledger verify');
    } finally {
      await sb.cleanup();
    }
  });
});

describe('BRR_APP names the app a build belongs to, as --app does', () => {
  it('a Procfile app built with BRR_APP is that app’s newest build (what `brr push` without a build sends)', async () => {
    const sb = await Sandbox.withFiles(() => ({ 'server.js': '', Procfile: 'web: node server.js\n' }));
    try {
      const env = { BRR_APP: 'shop' };
      const first = JSON.parse((await sb.ok(['build', '--json'], env)).stdout) as { digest: string; app: string };
      expect(first.app).toBe('shop');
      sb.commit('server.js', '// v2\n', 'v2');
      const second = JSON.parse((await sb.ok(['build', '--json'], env)).stdout) as { digest: string; app: string };
      expect(second).toMatchObject({ app: 'shop' });
      expect(second.digest).not.toBe(first.digest);
      const builds = JSON.parse((await sb.ok(['builds', '--app', 'shop', '--json'])).stdout) as Array<{
        digest: string;
      }>;
      expect(builds.map((b) => b.digest)).toEqual([second.digest, first.digest]);
      // An invalid name is refused, as everywhere else.
      const bad = await sb.brr(['build'], { env: { BRR_APP: 'Not An App' } });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('app name "Not An App" is invalid');
    } finally {
      await sb.cleanup();
    }
  });
});

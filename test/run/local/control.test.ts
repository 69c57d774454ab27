/**
 * The control socket and the supervisor's life cycle: token authentication, file modes, one
 * supervisor per home, stale files from a dead one, and a graceful shutdown that leaves no
 * process and no bound port behind.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSupervisor, type SupervisorClient } from '../../../src/run/local/client.js';
import { childrenFilePath } from '../../../src/run/local/children-file.js';
import { isLive, readProcStat } from '../../../src/core/proc.js';
import { runSupervisor } from '../../../src/run/local/supervisor.js';
import type { ProcessInfo } from '../../../src/run/types.js';
import {
  freePort,
  InMemoryLedgerDouble,
  liveMarkedPids,
  portsBindable,
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
let udpPort: number;

/** Sends raw lines on a fresh connection and collects the answer lines until the server closes or `count` arrive. */
function raw(lines: string[], count: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const out: Array<Record<string, unknown>> = [];
    let buf = '';
    const c = net.connect(home.socket, () => c.write(lines.join('\n') + '\n'));
    c.on('data', (d) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const p of parts) out.push(JSON.parse(p) as Record<string, unknown>);
      if (out.length >= count) {
        c.destroy();
        resolve(out);
      }
    });
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

beforeAll(async () => {
  httpPort = await freePort('tcp');
  udpPort = await freePort('udp');
  ledger.add({
    app: 'upf',
    release: 'v1',
    releaseHash: 'h1',
    dir: writeSampleRelease(home, 'upf', 'v1'),
    env: { SECRET_TOKEN: 's3cr3t' },
    processes: { nf: sampleProcess(httpPort, udpPort, { scale: 2 }) },
    formation: {},
  });
  ledger.current.set('upf', 'v1');
  ({ client, done } = await startInProcess(ledger.deps(home)));
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

describe('control socket', () => {
  it('is private: run dir 0700, socket and token 0600', () => {
    expect(statSync(home.run).mode & 0o777).toBe(0o700);
    expect(statSync(home.socket).mode & 0o777).toBe(0o600);
    expect(statSync(`${home.run}/token`).mode & 0o777).toBe(0o600);
    expect(readFileSync(home.pidFile, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\\n$`));
  });

  it('refuses requests without the right token and closes the connection', async () => {
    const none = await raw(['{"id":1,"op":"ping"}', '{"id":2,"op":"shutdown"}'], 5);
    expect(none).toEqual([{ id: 1, ok: false, error: expect.objectContaining({ code: 'unauthorized' }) }]);
    const wrong = await raw([JSON.stringify({ token: 'f'.repeat(64), id: 'a', op: 'ps' })], 5);
    expect(wrong).toEqual([{ id: 'a', ok: false, error: expect.objectContaining({ code: 'unauthorized' }) }]);
    const token = readFileSync(`${home.run}/token`, 'utf8').trim();
    const good = await raw([JSON.stringify({ token, id: 7, op: 'ping' })], 1);
    expect(good).toEqual([
      {
        id: 7,
        ok: true,
        result: { pid: process.pid, version: expect.any(String), startedAt: expect.any(String), secretsKeyId: null },
      },
    ]);
    const bad = await raw([JSON.stringify({ token, id: 8, op: 'rm -rf' }), 'not json'], 2);
    expect(bad.map((r) => (r.error as { code: string }).code)).toEqual(['bad_request', 'bad_request']);
  });

  it('resumed the desired release on start without recording anything', async () => {
    const ps = await waitFor(async () => {
      const rows = await client.request<ProcessInfo[]>('ps');
      return rows.length === 2 && rows.every((p) => p.state === 'healthy') ? rows : null;
    }, 10_000);
    expect(ps.map((p) => `${p.app} ${p.release} ${p.type}.${p.index}`)).toEqual(['upf v1 nf.1', 'upf v1 nf.2']);
    expect(ledger.events).toEqual([]);
    expect(ledger.logLines.join('\n')).not.toContain('s3cr3t');
  });

  it('gives each child a minimal environment with its own LISTEN_PID and sockets at fd 3+', async () => {
    const [p] = await client.request<ProcessInfo[]>('ps');
    const pid = p?.pid as number;
    const env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const expected = [
      'BRR_APP',
      // The containment id descendants inherit (issue 10).
      'BRR_INSTANCE',
      'BRR_PROCESS_INDEX',
      'BRR_PROCESS_TYPE',
      'BRR_RELEASE',
      'BRR_SUPERVISOR_HOME',
      'LISTEN_FDNAMES',
      'LISTEN_FDS',
      'LISTEN_PID',
      'PORT',
      'SECRET_TOKEN',
    ];
    const base = ['PATH', 'HOME', 'LANG', 'TZ'].filter((k) => process.env[k] !== undefined);
    // sh may add PWD (and OLDPWD/SHLVL) to what it execs.
    const shellAdded = ['PWD', 'OLDPWD', 'SHLVL'];
    expect(
      Object.keys(env)
        .filter((k) => !shellAdded.includes(k))
        .sort(),
    ).toEqual([...expected, ...base].sort());
    expect(env).toMatchObject({
      LISTEN_PID: String(pid),
      LISTEN_FDS: '3',
      LISTEN_FDNAMES: 'http:data:health',
      PORT: String(httpPort),
      BRR_PROCESS_INDEX: '1',
    });
    expect(readProcStat(pid)?.pgrp).toBe(pid);
  });

  it('refuses a second supervisor for the same home', async () => {
    await expect(runSupervisor(ledger.deps(home), { handleSignals: false })).rejects.toMatchObject({
      code: 'supervisor_running',
    });
    // The running one is unharmed.
    await expect(client.request('ping')).resolves.toMatchObject({ pid: process.pid });
  });

  it('shuts down gracefully: every child stopped, files removed, ports free', async () => {
    const pids = (await client.request<ProcessInfo[]>('ps')).map((p) => p.pid as number);
    const progress: string[] = [];
    await expect(client.request('shutdown', {}, (m) => progress.push(m))).resolves.toEqual({ stopped: true });
    expect(progress).toEqual(['stopping every process']);
    await done;
    for (const pid of pids) expect(isLive(readProcStat(pid))).toBe(false);
    expect(liveMarkedPids(home)).toEqual([]);
    expect(existsSync(home.socket)).toBe(false);
    expect(existsSync(home.pidFile)).toBe(false);
    expect(JSON.parse(readFileSync(childrenFilePath(home.run), 'utf8')).children).toEqual([]);
    expect(await portsBindable(httpPort, udpPort)).toBe(true);
    expect(await connectSupervisor(home)).toBeNull();
    // The drain ran: SIGTERM, not SIGKILL.
    expect(readFileSync(`${home.logs}/upf/nf.1.log`, 'utf8')).toMatch(/draining[\s\S]*exited with code 0/);
  });

  it('starts over stale files of a dead supervisor', async () => {
    writeFileSync(home.pidFile, '999999 12345\n');
    writeFileSync(home.socket, '');
    ({ client, done } = await startInProcess(ledger.deps(home)));
    await expect(client.request('ping')).resolves.toMatchObject({ pid: process.pid });
  });
});

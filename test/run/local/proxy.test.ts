/**
 * The supervisor's proxy (`handoff: proxy`) with real processes, in-process: established TCP
 * connections and live UDP flows stay on the old release's process across a switch until they
 * end; private ports are recorded for an adopting supervisor; `switch: stop-first` runs an app
 * with a hard-coded port; and failures that used to say `connection refused` or nothing now say
 * what is wrong.
 */
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrrError } from '../../../src/core/errors.js';
import type { ProcessSpec } from '../../../src/core/types.js';
import type { SupervisorClient } from '../../../src/run/local/client.js';
import type { ProcessInfo, RunSpec } from '../../../src/run/types.js';
import { freePort, httpGet, InMemoryLedgerDouble, startInProcess, tempHome, waitFor } from './helpers/fixture.js';

// Knows nothing of brr but the ports it is told: a line echo on $PORT_ECHO, a datagram echo on
// $PORT_DATA, both answering `<release>|<pid>|<what was sent>`.
const ECHO_APP = `import net from 'node:net';
import dgram from 'node:dgram';
const tag = (process.env.BRR_RELEASE ?? '') + '|' + process.pid + '|';
net.createServer((c) => c.on('data', (d) => c.write(tag + String(d)))).listen(Number(process.env.PORT_ECHO), '127.0.0.1');
const u = dgram.createSocket('udp4');
u.on('message', (m, from) => u.send(tag + String(m), from.port, from.address));
u.bind(Number(process.env.PORT_DATA), '127.0.0.1');
`;
// Binds a fixed port itself; answers its release over HTTP. Says EADDRINUSE the way Node does.
const HARD_PORT_APP = `import http from 'node:http';
if (process.env.FAIL === '1') process.exit(3);
http.createServer((q, s) => s.end(JSON.stringify({ release: process.env.BRR_RELEASE }))).listen(Number(process.env.HARD_PORT), '127.0.0.1');
`;
// Takes its socket by fd but does not serve the private health socket.
const FDS_NO_HEALTH_APP = `import http from 'node:http';
http.createServer((q, s) => s.end('ok')).listen({ fd: 3 });
`;

const home = tempHome('brr-proxy-');
const ledger = new InMemoryLedgerDouble();
let client: SupervisorClient;
let done: Promise<void>;
let echoPort: number;
let dataPort: number;
let hardPort: number;
let recreatePort: number;
let fdsPort: number;

const health = (over: Partial<ProcessSpec['health']> = {}): ProcessSpec['health'] => ({
  check: null,
  timeoutMs: 10_000,
  intervalMs: 50,
  upForMs: 200,
  ...over,
});

function release(
  app: string,
  v: string,
  file: string,
  text: string,
  processes: Record<string, ProcessSpec>,
  env = {},
): RunSpec {
  const dir = path.join(home.releases, app, v);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, file), text);
  return ledger.add({ app, release: v, releaseHash: `hash-${v}`, dir, env, processes, formation: {} });
}

const echoProc = (): ProcessSpec => ({
  command: 'node app.mjs',
  scale: 1,
  ports: [
    { name: 'echo', port: echoPort, protocol: 'tcp', address: '127.0.0.1' },
    { name: 'data', port: dataPort, protocol: 'udp', address: '127.0.0.1' },
  ],
  health: health(),
  graceMs: 60_000,
  restart: 'always',
});

const hardProc = (sw?: 'stop-first'): ProcessSpec => ({
  command: 'node app.mjs',
  scale: 1,
  ports: [],
  health: health({ upForMs: 300 }),
  graceMs: 2_000,
  restart: 'always',
  ...(sw ? { switch: sw } : {}),
});

beforeAll(async () => {
  echoPort = await freePort('tcp');
  dataPort = await freePort('udp');
  hardPort = await freePort('tcp');
  recreatePort = await freePort('tcp');
  fdsPort = await freePort('tcp');
  for (const v of ['v1', 'v2']) release('echo', v, 'app.mjs', ECHO_APP, { nf: echoProc() });
  for (const v of ['v1', 'v2'])
    release('clash', v, 'app.mjs', HARD_PORT_APP, { web: hardProc() }, { HARD_PORT: String(hardPort) });
  for (const [v, env] of [
    ['v1', {}],
    ['v2', {}],
    ['v3', { FAIL: '1' }],
  ] as const)
    release(
      'recreate',
      v,
      'app.mjs',
      HARD_PORT_APP,
      { web: hardProc('stop-first') },
      { HARD_PORT: String(recreatePort), ...env },
    );
  release('fds', 'v1', 'app.mjs', FDS_NO_HEALTH_APP, {
    web: {
      command: 'node app.mjs',
      scale: 1,
      ports: [{ name: 'http', port: fdsPort, protocol: 'tcp', address: '127.0.0.1', handoff: 'fds' }],
      health: health({ check: { kind: 'http', path: '/', port: 'http' }, timeoutMs: 1_000 }),
      graceMs: 1_000,
      restart: 'always',
    },
  });
  ({ client, done } = await startInProcess(ledger.deps(home), { udpFlowIdleMs: 400 }));
});

afterAll(async () => {
  await client?.request('shutdown').catch(() => {});
  await done;
  rmSync(home.root, { recursive: true, force: true });
});

/** A line client that reads one answer per line sent. */
async function lineClient(port: number) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  return {
    ask: (line: string) =>
      new Promise<string>((resolve) => {
        sock.once('data', (d) => resolve(String(d)));
        sock.write(line);
      }),
    close: () => new Promise<void>((r) => sock.end(r)),
  };
}

async function udpClient(port: number) {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return {
    ask: (msg: string) =>
      new Promise<{ reply: string; from: number }>((resolve) => {
        s.once('message', (m, rinfo) => resolve({ reply: String(m), from: rinfo.port }));
        s.send(msg, port, '127.0.0.1');
      }),
    close: () => s.close(),
  };
}

const pidOf = (reply: string) => Number(reply.split('|')[1]);

async function switchError(app: string, v: string): Promise<BrrError> {
  const e = await client.request('switch', { app, release: v }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BrrError);
  return e as BrrError;
}

describe('proxy: connections and flows across a switch', () => {
  it('a held TCP connection and a live UDP flow finish on the old process; new ones go to the new one', async () => {
    await client.request('switch', { app: 'echo', release: 'v1' });
    const held = await lineClient(echoPort);
    const flow = await udpClient(dataPort);
    const v1 = await held.ask('a');
    expect(v1).toMatch(/^v1\|\d+\|a$/);
    const u1 = await flow.ask('x');
    expect(u1.reply).toMatch(/^v1\|/);
    expect(u1.from).toBe(dataPort);

    // The switch waits for the old process's connection and flow to end (grace is 60 s).
    let switched = false;
    const switching = client.request('switch', { app: 'echo', release: 'v2' }).then(() => (switched = true));
    await waitFor(async () => {
      const st = await client.request<Array<{ release: string }>>('status', { app: 'echo' });
      return st[0]?.release === 'v2';
    }, 15_000);
    const fresh = await lineClient(echoPort);
    expect(await fresh.ask('b')).toMatch(/^v2\|/);
    const other = await udpClient(dataPort);
    expect((await other.ask('y')).reply).toMatch(/^v2\|/);
    // Still the old process, for both.
    expect(pidOf(await held.ask('c'))).toBe(pidOf(v1));
    const u2 = await flow.ask('z');
    expect(pidOf(u2.reply)).toBe(pidOf(u1.reply));
    expect(u2.from).toBe(dataPort);
    const ps = await client.request<ProcessInfo[]>('ps', { app: 'echo' });
    expect(ps.map((p) => p.release).sort()).toEqual(['v1', 'v2']);
    expect(switched).toBe(false);

    // The connection ends and the flow goes idle: the old process is stopped, the switch done.
    await held.close();
    await switching;
    const after = await client.request<ProcessInfo[]>('ps', { app: 'echo' });
    expect(after.map((p) => p.release)).toEqual(['v2']);
    // The flow's client, back after its flow ended, now reaches the new release.
    expect((await flow.ask('again')).reply).toMatch(/^v2\|/);
    await fresh.close();
    flow.close();
    other.close();

    // Each child's private ports are recorded where the supervisor records its children.
    const doc = JSON.parse(readFileSync(path.join(home.run, 'children.json'), 'utf8')) as {
      children: Array<{ app: string; privatePorts?: Record<string, number> }>;
    };
    const rec = doc.children.find((c) => c.app === 'echo');
    expect(Object.keys(rec?.privatePorts ?? {}).sort()).toEqual(['data', 'echo']);
  });
});

describe('ports the app binds itself', () => {
  it('an overlapping switch whose new process hits EADDRINUSE says so and names the ways out', async () => {
    await client.request('switch', { app: 'clash', release: 'v1' });
    const e = await switchError('clash', 'v2');
    expect(e.code).toBe('switch_failed');
    expect(e.message).toContain('EADDRINUSE');
    expect(e.message).toContain('handoff: proxy');
    expect(e.message).toContain('switch: stop-first');
    expect(JSON.parse((await httpGet(hardPort)).body)).toEqual({ release: 'v1' });
  });

  it('switch: stop-first redeploys an app with a hard-coded port, and brings the old one back on failure', async () => {
    await client.request('switch', { app: 'recreate', release: 'v1' });
    expect(JSON.parse((await httpGet(recreatePort)).body)).toEqual({ release: 'v1' });
    await client.request('switch', { app: 'recreate', release: 'v2' });
    expect(JSON.parse((await httpGet(recreatePort)).body)).toEqual({ release: 'v2' });
    const st = await client.request<Array<{ release: string; allHealthy: boolean }>>('status', { app: 'recreate' });
    expect(st).toMatchObject([{ release: 'v2', allHealthy: true }]);

    const e = await switchError('recreate', 'v3');
    expect(e.code).toBe('switch_failed');
    const ps = await client.request<ProcessInfo[]>('ps', { app: 'recreate' });
    expect(ps.map((p) => [p.release, p.state])).toEqual([['v2', 'healthy']]);
    expect(JSON.parse((await httpGet(recreatePort)).body)).toEqual({ release: 'v2' });
  });
});

describe('handoff: fds', () => {
  it('a process that never serves its private health socket fails with that, not `connection refused`', async () => {
    const e = await switchError('fds', 'v1');
    expect(e.message).toContain('does not listen on its private health socket (fd 4, LISTEN_FDNAMES name "health")');
    expect(e.message).toContain('README: "How a process gets its ports", section "handoff: fds"');
  });
});

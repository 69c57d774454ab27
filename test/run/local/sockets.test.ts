import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bindHeldSocket,
  bindPrivateTcp,
  listenFdsEnv,
  stdioFor,
  type HeldSocket,
} from '../../../src/run/local/sockets.js';

// Real children: each listens on the socket it was handed at fd 3 and answers with its pid.
const TCP_CHILD = `
const net = require('net');
const s = net.createServer((c) => c.end(String(process.pid)));
s.listen({ fd: 3 }, () => process.stdout.write('ready\\n'));
`;
const UDP_CHILD = `
const dgram = require('dgram');
const u = dgram.createSocket('udp4');
u.on('message', (m, from) => u.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
u.bind({ fd: 3 }, () => process.stdout.write('ready\\n'));
`;

const sockets: HeldSocket[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sockets.splice(0)) s.close();
});

function hold(s: HeldSocket): HeldSocket {
  sockets.push(s);
  return s;
}

async function startChild(script: string, held: HeldSocket[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit', ...stdioFor(held)],
    env: { ...process.env, ...listenFdsEnv(held) },
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
  return child;
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let data = '';
    c.on('data', (d) => (data += d.toString()));
    c.on('end', () => resolve(data));
    c.on('error', reject);
    c.setTimeout(5000, () => c.destroy(new Error('timeout')));
  });
}

async function askMany(port: number, total: number, concurrency = 16): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < total; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, total - i) }, () => ask(port));
    answers.push(...(await Promise.all(batch)));
  }
  return answers;
}

describe('held TCP socket', () => {
  it('is shared by two children; both answer, and the survivor answers everything after one is killed', async () => {
    const s = hold(bindHeldSocket({ name: 'http', port: 0, protocol: 'tcp', address: '127.0.0.1' }));
    expect(s.port).toBeGreaterThan(0);
    const a = await startChild(TCP_CHILD, [s]);
    const b = await startChild(TCP_CHILD, [s]);

    const answers = await askMany(s.port, 400);
    expect(answers).toHaveLength(400);
    const pids = new Set(answers);
    expect(pids).toEqual(new Set([String(a.pid), String(b.pid)]));

    a.kill('SIGKILL');
    await new Promise((r) => a.once('exit', r));
    const after = await askMany(s.port, 200);
    expect(new Set(after)).toEqual(new Set([String(b.pid)]));
  });

  it('queues a connection made before any child listens; the parent never accepts it, the first child does', async () => {
    const s = hold(bindHeldSocket({ name: 'http', port: 0, protocol: 'tcp', address: '127.0.0.1' }));
    const early = ask(s.port);
    // Give the (hypothetical) parent plenty of time to accept: nothing must answer yet.
    const raced = await Promise.race([
      early.then(() => 'answered'),
      new Promise((r) => setTimeout(() => r('waiting'), 300)),
    ]);
    expect(raced).toBe('waiting');
    const child = await startChild(TCP_CHILD, [s]);
    expect(await early).toBe(String(child.pid));
  });

  it('refuses a second bind of the same port with port_in_use', () => {
    const s = hold(bindHeldSocket({ name: 'http', port: 0, protocol: 'tcp', address: '127.0.0.1' }));
    let err: unknown;
    try {
      bindHeldSocket({ name: 'again', port: s.port, protocol: 'tcp', address: '127.0.0.1' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'port_in_use', exitCode: 1 });
    expect((err as Error).message).toContain(`127.0.0.1:${s.port}/tcp`);
    expect((err as { hint: string }).hint).toContain(`ss -ltnp 'sport = :${s.port}'`);
  });

  it('reports a port held by another process as port_in_use', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(() => bindHeldSocket({ name: 'http', port, protocol: 'tcp', address: '127.0.0.1' })).toThrow(
        expect.objectContaining({ code: 'port_in_use' }),
      );
    } finally {
      server.close();
    }
  });

  it('rejects a host name as bind address', () => {
    expect(() => bindHeldSocket({ name: 'http', port: 0, protocol: 'tcp', address: 'localhost' })).toThrow(
      expect.objectContaining({ code: 'invalid_address', exitCode: 2 }),
    );
  });

  it('binds IPv6 loopback', async () => {
    const s = hold(bindHeldSocket({ name: 'http', port: 0, protocol: 'tcp', address: '::1' }));
    const child = await startChild(TCP_CHILD, [s]);
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '::1', port: s.port });
      let data = '';
      c.on('data', (d) => (data += d.toString()));
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    expect(answer).toBe(String(child.pid));
  });
});

describe('held UDP socket', () => {
  it('is read by a child only; a datagram sent before the child starts is kept for it', async () => {
    const s = hold(bindHeldSocket({ name: 'data', port: 0, protocol: 'udp', address: '127.0.0.1' }));
    const client = dgram.createSocket('udp4');
    try {
      const replies: string[] = [];
      client.on('message', (m) => replies.push(m.toString()));
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
      client.send('early', s.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
      await startChild(UDP_CHILD, [s]);
      client.send('late', s.port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while (replies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(replies.sort()).toEqual(['echo:early', 'echo:late']);
    } finally {
      client.close();
    }
  });

  it('refuses a second bind of the same port with port_in_use', () => {
    const s = hold(bindHeldSocket({ name: 'data', port: 0, protocol: 'udp', address: '127.0.0.1' }));
    expect(() => bindHeldSocket({ name: 'data', port: s.port, protocol: 'udp', address: '127.0.0.1' })).toThrow(
      expect.objectContaining({ code: 'port_in_use', hint: expect.stringContaining(`ss -lunp 'sport = :${s.port}'`) }),
    );
  });
});

describe('bindPrivateTcp', () => {
  it('gives distinct usable ports, refused until the child listens', async () => {
    const p1 = hold(bindPrivateTcp());
    const p2 = hold(bindPrivateTcp('health'));
    expect(p1.name).toBe('health');
    expect(p1.address).toBe('127.0.0.1');
    expect(p1.port).toBeGreaterThan(0);
    expect(p2.port).not.toBe(p1.port);
    await expect(ask(p1.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const child = await startChild(TCP_CHILD, [p1]);
    expect(await ask(p1.port)).toBe(String(child.pid));
  });
});

describe('LISTEN_FDS helpers', () => {
  const fake = (name: string, fd: number): HeldSocket => ({
    name,
    protocol: 'tcp',
    address: '127.0.0.1',
    port: 1,
    fd,
    close() {},
  });

  it('names sockets in order, fds from 3', () => {
    const list = [fake('http', 20), fake('data', 21), fake('health', 25)];
    expect(listenFdsEnv(list)).toEqual({ LISTEN_FDS: '3', LISTEN_FDNAMES: 'http:data:health' });
    expect(listenFdsEnv(list, 1234)).toEqual({
      LISTEN_FDS: '3',
      LISTEN_FDNAMES: 'http:data:health',
      LISTEN_PID: '1234',
    });
    expect(stdioFor(list)).toEqual([20, 21, 25]);
    expect(listenFdsEnv([])).toEqual({ LISTEN_FDS: '0', LISTEN_FDNAMES: '' });
  });
});

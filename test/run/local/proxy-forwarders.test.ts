/**
 * The TCP and UDP forwarders of `handoff: proxy` on their own, with real sockets on 127.0.0.1:
 * half-close and large transfers (back-pressure) over TCP, connections spread across backends,
 * a connection that waits for a backend instead of being refused, UDP flows pinned to one
 * backend with replies from the public port, flows ending when idle, and datagrams that arrive
 * before any backend waiting for one (bounded), in a socket the proxy adopted.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openPortProxy, type PortProxy } from '../../../src/run/local/proxy-port.js';
import { bindProxyUdpHandle } from '../../../src/run/local/sockets.js';
import type { Backend } from '../../../src/run/local/proxy-tcp.js';
import { freePort } from './helpers/fixture.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function tcpBackend(id: string, onConn: (c: net.Socket) => void): Promise<Backend> {
  const srv = net.createServer({ allowHalfOpen: true }, onConn);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => srv.close());
  return { id, port: (srv.address() as net.AddressInfo).port, available: () => true };
}

async function tcpProxy(): Promise<{ proxy: PortProxy; port: number }> {
  const port = await freePort('tcp');
  const proxy = openPortProxy(
    { name: 'http', port, protocol: 'tcp', address: '127.0.0.1' },
    { udpFlowIdleMs: 200, log: () => {} },
  );
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

/** Sends `data`, half-closes, and collects everything until the other side ends. */
function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    c.on('end', () => {
      c.end();
      resolve(Buffer.concat(got));
    });
    c.on('error', reject);
    c.end(data);
  });
}

describe('TCP proxy', () => {
  it('forwards a half-close: the backend reads to the end, then answers, and the client gets it all', async () => {
    // Answers the sha256 of everything it read, after the client's FIN: needs half-close both ways.
    const b = await tcpBackend('a', (c) => {
      const h = createHash('sha256');
      c.on('data', (d: Buffer) => h.update(d));
      c.on('end', () => c.end(h.digest('hex')));
    });
    const { proxy, port } = await tcpProxy();
    proxy.setBackends([b]);
    const big = Buffer.alloc(16 * 1024 * 1024, 7); // far beyond socket buffers: back-pressure
    const answer = await exchange(port, big);
    expect(answer.toString()).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('streams a large answer to a client that reads it all', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024, 3);
    const b = await tcpBackend('a', (c) => c.on('end', () => c.end(big)).resume());
    const { proxy, port } = await tcpProxy();
    proxy.setBackends([b]);
    expect((await exchange(port, Buffer.from('go'))).equals(big)).toBe(true);
  });

  it('spreads connections across backends and waits for one instead of refusing', async () => {
    const hits: string[] = [];
    const mk = (id: string) => tcpBackend(id, (c) => c.on('end', () => c.end(id)).resume());
    const [a, b] = [await mk('a'), await mk('b')];
    const { proxy, port } = await tcpProxy();
    // No backend yet: the connection waits in the proxy.
    const early = exchange(port, Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 200));
    proxy.setBackends([a, b]);
    hits.push((await early).toString());
    for (let i = 0; i < 6; i++) hits.push((await exchange(port, Buffer.from('x'))).toString());
    expect(new Set(hits)).toEqual(new Set(['a', 'b']));
  });

  it('tries another backend when one refuses', async () => {
    const live = await tcpBackend('live', (c) => c.on('end', () => c.end('live')).resume());
    const dead: Backend = { id: 'dead', port: await freePort('tcp'), available: () => true };
    const { proxy, port } = await tcpProxy();
    proxy.setBackends([dead, live]);
    for (let i = 0; i < 4; i++) expect((await exchange(port, Buffer.from('x'))).toString()).toBe('live');
  });
});

describe('UDP proxy', () => {
  async function udpBackend(id: string): Promise<Backend> {
    const s = dgram.createSocket('udp4');
    s.on('message', (m, from) => s.send(`${id}|${String(m)}`, from.port, from.address));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    cleanups.push(() => s.close());
    return { id, port: s.address().port, available: () => true };
  }

  it('pins a flow to one backend, answers from the public port, and lets an idle flow go', async () => {
    const port = await freePort('udp');
    const proxy = openPortProxy(
      { name: 'data', port, protocol: 'udp', address: '127.0.0.1' },
      { udpFlowIdleMs: 200, log: () => {} },
    );
    cleanups.push(() => proxy.close());
    await proxy.ready;
    const [a, b] = [await udpBackend('a'), await udpBackend('b')];
    proxy.setBackends([a, b]);
    const client = dgram.createSocket('udp4');
    cleanups.push(() => client.close());
    const ask = (m: string) =>
      new Promise<{ reply: string; from: number }>((resolve) => {
        client.once('message', (r, rinfo) => resolve({ reply: String(r), from: rinfo.port }));
        client.send(m, port, '127.0.0.1');
      });
    const first = await ask('1');
    expect(first.from).toBe(port);
    const pinned = first.reply.split('|')[0];
    for (let i = 0; i < 5; i++) expect((await ask(String(i))).reply.split('|')[0]).toBe(pinned);
    // The flow's backend is replaced; while the flow is live it stays put, and drain waits for it.
    const other = pinned === 'a' ? b : a;
    proxy.setBackends([other]);
    expect((await ask('still')).reply.split('|')[0]).toBe(pinned);
    expect(await proxy.drain(pinned === 'a' ? 'a' : 'b', 5_000)).toBe(0); // ended by going idle
    expect((await ask('new flow')).reply.split('|')[0]).toBe(other.id);
  });

  it('adopts a bound socket, and datagrams that come before any backend wait for one (bounded)', async () => {
    const port = await freePort('udp');
    const spec = { name: 'data', port, protocol: 'udp' as const, address: '127.0.0.1' };
    // What a supervisor gets from its predecessor's fd holder: a bound handle, with datagrams in it.
    const { handle } = bindProxyUdpHandle(spec);
    const client = dgram.createSocket('udp4');
    cleanups.push(() => client.close());
    const replies: string[] = [];
    client.on('message', (r) => replies.push(String(r)));
    const send = (m: string) => new Promise<void>((r) => client.send(m, port, '127.0.0.1', () => r()));
    await send('queued in the kernel');
    let released = 0;
    const logged: string[] = [];
    const proxy = openPortProxy(spec, {
      udpFlowIdleMs: 5_000,
      udpWaiting: { max: 20, ms: 400 },
      log: (l) => logged.push(l),
      heldSocket: () => ({ handle, release: () => released++ }),
    });
    cleanups.push(() => proxy.close());
    await proxy.ready;
    for (let i = 0; i < 5; i++) await send(`old ${i}`);
    await new Promise((r) => setTimeout(r, 500)); // older than the 400 ms they may wait
    for (let i = 0; i < 25; i++) await send(`new ${i}`); // more than the 20 kept: the oldest go
    await new Promise((r) => setTimeout(r, 100));
    expect(replies).toEqual([]);
    proxy.setBackends([await udpBackend('a')]);
    const deadline = Date.now() + 5_000;
    while (replies.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `a|new ${i + 5}`));
    expect(logged.join('\n')).toMatch(/dropped 11 datagram\(s\) that found no process/);
    proxy.close();
    expect(released).toBe(1);
  });
});

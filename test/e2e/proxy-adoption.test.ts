/**
 * A proxied app (`handoff: proxy`, the default) across a SIGKILL of its supervisor, through the
 * real CLI: the new `brr supervise` adopts the running process (same pid, no health wait), binds
 * the public port again and forwards to the private port recorded for the process; a config
 * change afterwards switches as usual, and shutdown leaves nothing behind. Under load (a new
 * connection per request, one at a time) no connection is refused across the restart: the public
 * listening socket is kept by the fd holder, so connections made while no supervisor runs wait
 * in the kernel's accept queue and are forwarded once the next one takes the socket back. Only
 * the connection the killed supervisor was forwarding is cut. The same holds for a proxied UDP
 * port: its socket is held too, so datagrams sent while no supervisor runs wait in its receive
 * buffer and are answered once the next one adopts it.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
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

/** One request after another, each on a new connection; failures and the slowest answer kept. */
function startLoad(port: number) {
  let ok = 0;
  let maxMs = 0;
  const failures: string[] = [];
  let stopped = false;
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = Date.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 15_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failures.push(`HTTP ${res.statusCode}`);
          maxMs = Math.max(maxMs, Date.now() - t0);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        failures.push(e.message);
        resolve();
      });
    });
  const loop = (async () => {
    while (!stopped) {
      const n = failures.length;
      await once();
      if (failures.length > n) await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { ok, failures, maxMs };
    },
  };
}

const UDP_APP = `const dgram = require('dgram');
const udp = dgram.createSocket('udp4');
udp.on('message', (m, from) => udp.send(process.env.BRR_RELEASE + '|' + process.pid + '|' + m, from.port, from.address));
udp.bind(Number(process.env.PORT_DATA), '127.0.0.1');
require('http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT_HTTP), '127.0.0.1');
`;

/** A datagram every 5 ms from one client socket, each numbered; when each was sent and which were answered. */
function startUdpLoad(port: number) {
  const sock = dgram.createSocket('udp4');
  const sentAt: number[] = [];
  const answers = new Map<number, string>();
  sock.on('message', (m) => {
    const [release, pid, seq] = String(m).split('|');
    answers.set(Number(seq), `${release}|${pid}`);
  });
  sock.on('error', () => {}); // ICMP port unreachable while nothing reads the port
  const timer = setInterval(() => {
    sentAt.push(Date.now());
    sock.send(String(sentAt.length - 1), port, '127.0.0.1');
  }, 5);
  return {
    answers,
    async stop() {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 1_000)); // answers still on their way
      sock.close();
      const lost = sentAt.map((_, i) => i).filter((i) => !answers.has(i));
      return { sentAt, lost };
    },
  };
}

let sb: Sandbox | null = null;
afterAll(async () => {
  await sb?.cleanup();
});

describe('a proxied app survives a SIGKILL of its supervisor', () => {
  it('the next supervisor adopts the process and forwards to it again', { timeout: 120_000 }, async () => {
    sb = await Sandbox.withFiles(() => ({ 'server.cjs': APP, Procfile: 'web: node server.cjs\n' }));
    const s = sb;
    s.env.BRR_APP = 'px';
    await s.ok(['config', 'set', `PORT=${s.httpPort}`]);
    await s.ok(['deploy']);
    const deployedAt = Date.now();
    const before = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
    expect(before.release).toBe('v1');
    const children = JSON.parse(readFileSync(path.join(s.home, 'run', 'children.json'), 'utf8')) as {
      children: Array<{ pid: number; privatePorts?: Record<string, number> }>;
    };
    expect(children.children.find((c) => c.pid === before.pid)?.privatePorts?.web).toBeGreaterThan(0);

    const sup = Number(readFileSync(path.join(s.home, 'run', 'supervisor.pid'), 'utf8').split(/\s+/)[0]);
    const load = startLoad(s.httpPort);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    process.kill(sup, 'SIGKILL');
    // No supervisor for a moment, as when systemd restarts one.
    await new Promise((r) => setTimeout(r, 300));
    const next = spawn(process.execPath, [BRR, 'supervise', '--home', s.home], { stdio: 'ignore', detached: true });
    next.unref();
    const after = await waitFor('the public port to answer again', async () => {
      const r = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
      return r.pid ? r : undefined;
    });
    const answeredAfterMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 300));
    const served = await load.stop();
    process.stderr.write(
      `proxied app across a supervisor SIGKILL: ${served.ok} requests answered, ${served.failures.length} failed` +
        ` (${[...new Set(served.failures)].join(', ') || 'none'}), slowest ${served.maxMs} ms, public port answered ${answeredAfterMs} ms after the kill\n`,
    );
    // None refused: new connections waited in the held socket's queue. Only a connection the dead
    // supervisor was forwarding at the kill can be cut (one at most: the load is one at a time).
    expect(served.failures.filter((f) => /ECONNREFUSED/.test(f))).toEqual([]);
    expect(served.failures.length).toBeLessThanOrEqual(1);
    expect(served.ok).toBeGreaterThan(0);
    expect(after).toEqual({ pid: before.pid, release: 'v1' });
    const ps = await s.json<Array<{ pid: number; state: string; uptimeMs: number }>>(['ps']);
    expect(ps.map((p) => [p.pid, p.state])).toEqual([[before.pid, 'healthy']]);
    // The adopted process's own uptime (it started before the deploy returned), not the adoption's.
    expect(ps[0]!.uptimeMs).toBeGreaterThanOrEqual(Date.now() - deployedAt - 100);
    expect((await s.brr(['status'])).code).toBe(0);
    expect(pidsWithHome(s.home)).not.toContain(sup);

    await s.ok(['config', 'set', 'X=1']);
    const v2 = JSON.parse((await s.get('/')).body) as { pid: number; release: string };
    expect(v2.release).toBe('v2');
    expect(v2.pid).not.toBe(before.pid);
  });
});

describe('a proxied UDP port survives a SIGKILL of its supervisor', () => {
  it(
    'datagrams sent while no supervisor runs wait in the held socket and are answered',
    { timeout: 120_000 },
    async () => {
      await sb?.cleanup();
      sb = await Sandbox.withFiles(({ httpPort, udpPort }) => ({
        'app.cjs': UDP_APP,
        'brr.yaml': [
          'app: ux',
          'processes:',
          '  nf:',
          '    command: node app.cjs',
          '    ports:',
          `      - { name: http, port: ${httpPort}, protocol: tcp }`,
          `      - { name: data, port: ${udpPort}, protocol: udp }`,
          '',
        ].join('\n'),
      }));
      const s = sb;
      await s.ok(['deploy']);
      const first = (await s.udp('hello')).split('|');
      expect(first[0]).toBe('v1');

      const sup = Number(readFileSync(path.join(s.home, 'run', 'supervisor.pid'), 'utf8').split(/\s+/)[0]);
      const load = startUdpLoad(s.udpPort);
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      process.kill(sup, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      const restartedAt = Date.now();
      const next = spawn(process.execPath, [BRR, 'supervise', '--home', s.home], { stdio: 'ignore', detached: true });
      next.unref();
      // Answered again: a datagram sent after the restart got its answer.
      await waitFor('the UDP port to answer again', async () => {
        const r = await s.udp('again', 500);
        return r.startsWith('v1|') ? r : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      const { sentAt, lost } = await load.stop();
      const inGap = sentAt.map((t, i) => [t, i] as const).filter(([t]) => t > killedAt + 20 && t < restartedAt);
      process.stderr.write(
        `proxied UDP across a supervisor SIGKILL: ${sentAt.length} datagrams sent, ${inGap.length} while no supervisor ran, ${lost.length} lost (${lost.join(', ') || 'none'})\n`,
      );
      expect(inGap.length).toBeGreaterThan(20);
      // Every datagram sent while no supervisor ran was answered, by the same (adopted) process.
      expect(inGap.filter(([, i]) => !load.answers.has(i))).toEqual([]);
      expect(new Set(inGap.map(([, i]) => load.answers.get(i)))).toEqual(new Set([`v1|${first[1]}`]));
      // Only what the killed supervisor had in hand at the kill can be lost.
      expect(lost.length).toBeLessThanOrEqual(2);
      expect(pidsWithHome(s.home)).not.toContain(sup);
      const ps = await s.json<Array<{ pid: number }>>(['ps']);
      expect(ps.map((p) => p.pid)).toEqual([Number(first[1])]);
    },
  );
});

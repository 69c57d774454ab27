import http from 'node:http';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

/** Keeps HTTP requests (keep-alive and fresh connections) and numbered UDP datagrams going until stopped. */
function startLoad(sb: Sandbox) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const releasesSeen = new Set<string>();
  let ok = 0;
  let stop = false;
  const request = (useAgent: boolean) =>
    new Promise<void>((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: sb.httpPort, path: '/', agent: useAgent ? agent : false },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            if (res.statusCode === 200) {
              ok++;
              releasesSeen.add((JSON.parse(body) as { release: string }).release);
            } else failures.push(`HTTP ${res.statusCode}`);
            resolve();
          });
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        failures.push(e.code ?? e.message);
        resolve();
      });
    });
  const worker = async (useAgent: boolean) => {
    while (!stop) await request(useAgent);
  };
  const workers = [worker(true), worker(true), worker(false), worker(false)];
  const udp = dgram.createSocket('udp4');
  const echoed = new Set<number>();
  let sent = 0;
  udp.on('message', (m) => {
    const s = String(m);
    if (s.startsWith('echo:seq-')) echoed.add(Number(s.slice(9)));
  });
  const timer = setInterval(() => udp.send(`seq-${sent++}`, sb.udpPort, '127.0.0.1'), 5);
  return async () => {
    stop = true;
    clearInterval(timer);
    await Promise.all(workers);
    await new Promise((r) => setTimeout(r, 500));
    udp.close();
    agent.destroy();
    const lost = Array.from({ length: sent }, (_, i) => i).filter((i) => !echoed.has(i));
    return { ok, failures, sent, lost, releasesSeen };
  };
}

describe('no refused connection and no lost datagram across switches, through the real CLI', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    await sb.ok(['build']);
    await sb.ok(['config', 'set', 'GREETING=one']);
    await sb.ok(['release']);
    await sb.ok(['run']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('a config change, a new build and a rollback under TCP and UDP load', async () => {
    const stopLoad = startLoad(sb);
    await new Promise((r) => setTimeout(r, 500));
    await sb.ok(['config', 'set', 'GREETING=two']); // v2
    sb.commit('src/extra.txt', 'a code change\n', 'new code');
    await sb.ok(['deploy']); // v3: a new build
    await sb.ok(['rollback']); // v4 = v2
    await new Promise((r) => setTimeout(r, 500));
    const r = await stopLoad();
    expect(r.failures).toEqual([]);
    expect(r.lost).toEqual([]);
    expect(r.ok).toBeGreaterThan(100);
    expect(r.sent).toBeGreaterThan(100);
    expect([...r.releasesSeen].sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    const rels = await sb.json<Array<{ id: string; build: { digest: string } }>>(['releases']);
    expect(rels[1]!.build.digest).not.toBe(rels[2]!.build.digest); // v3 really was another build
    expect(rels[0]!.build.digest).toBe(rels[2]!.build.digest); // v4 went back to v2's build
  });

  it("logs show each process's output, prefixed with its type and index", async () => {
    const logs = await sb.ok(['logs', '--process', 'nf', '-n', '20']);
    expect(logs.stdout).toMatch(/nf\.1\s+\| nf v4 pid \d+ serving/);
  });
});

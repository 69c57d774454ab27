/**
 * Continuous client load against the sample NF: HTTP requests (a new connection each, or
 * keep-alive) and UDP datagrams with sequence numbers whose echoes are matched.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import { httpGet } from './fixture.js';

export interface HttpStats {
  ok: number;
  failed: number;
  reused: number;
  errors: string[];
  /** Answers per release (from the sample's / response). */
  releases: Record<string, number>;
}

export function startHttpLoad(
  port: number,
  opts: { keepAlive: boolean; concurrency: number },
): { stop(): Promise<HttpStats> } {
  const stats: HttpStats = { ok: 0, failed: 0, reused: 0, errors: [], releases: {} };
  const agent = opts.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: opts.concurrency }) : false;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const r = await httpGet(port, '/', agent);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        const release = (JSON.parse(r.body) as { release: string }).release;
        stats.releases[release] = (stats.releases[release] ?? 0) + 1;
        stats.ok++;
        if (r.reused) stats.reused++;
      } catch (e) {
        stats.failed++;
        if (stats.errors.length < 20) stats.errors.push(String(e));
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      if (agent) agent.destroy();
      return stats;
    },
  };
}

export interface UdpStats {
  sent: number;
  received: number;
  lost: number[];
}

/** Sends `seq:<n>` every `intervalMs` (`perTick` at a time) and counts the `echo:seq:<n>` answers. */
export function startUdpLoad(
  port: number,
  opts: { intervalMs: number; perTick: number },
): { stop(): Promise<UdpStats> } {
  const sock = dgram.createSocket('udp4');
  const got = new Set<number>();
  let seq = 0;
  sock.on('message', (msg) => {
    const m = /^echo:seq:(\d+)$/.exec(msg.toString());
    if (m) got.add(Number(m[1]));
  });
  const timer = setInterval(() => {
    for (let i = 0; i < opts.perTick; i++) sock.send(`seq:${seq++}`, port, '127.0.0.1');
  }, opts.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      // Let the last echoes arrive.
      const deadline = Date.now() + 3_000;
      while (got.size < seq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      sock.close();
      const lost: number[] = [];
      for (let i = 0; i < seq; i++) if (!got.has(i)) lost.push(i);
      return { sent: seq, received: got.size, lost };
    },
  };
}

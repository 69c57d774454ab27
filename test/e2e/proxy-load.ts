/**
 * Client load for the proxy tests: HTTP requests on fresh and keep-alive connections and UDP
 * datagrams from several client sockets, all to one public port, recording failures, lost
 * datagrams, where every reply came from and which release answered. Bounded in count and time.
 *
 * A keep-alive request that fails on a REUSED connection before any byte of the answer is sent
 * once more on a new connection, as browsers, curl and Node's docs do (RFC 9112 §9.3.1: a client
 * may retry an idempotent request when the connection closes before the answer): an L4 proxy
 * cannot tell an idle keep-alive connection from a busy one, so when a draining old process
 * finally exits, such a connection is closed under the client. Those retries are counted.
 */
import dgram from 'node:dgram';
import http from 'node:http';

export interface LoadResult {
  ok: number;
  failures: string[];
  retriedOnReusedConnection: number;
  releases: Set<string>;
  udpSent: number;
  udpLost: number[];
  /** Replies that came from anywhere but the public address and port. */
  udpForeign: string[];
  udpReleases: Set<string>;
}

const MAX_REQUESTS = 200_000;
const MAX_MS = 300_000;

export function startProxyLoad(opts: {
  httpPort: number;
  udpPort?: number;
  /** Reads the release out of a reply body. */
  release: (body: string) => string;
  udpSockets?: number;
}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const r: LoadResult = {
    ok: 0,
    failures: [],
    retriedOnReusedConnection: 0,
    releases: new Set(),
    udpSent: 0,
    udpLost: [],
    udpForeign: [],
    udpReleases: new Set(),
  };
  const until = Date.now() + MAX_MS;
  let stop = false;
  let count = 0;
  const get = (useAgent: boolean): Promise<{ body: string } | { error: string; retryable: boolean }> =>
    new Promise((resolve) => {
      let answered = false;
      const req = http.get({ host: '127.0.0.1', port: opts.httpPort, path: '/', agent: useAgent ? agent : false });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve(res.statusCode === 200 ? { body } : { error: `HTTP ${res.statusCode}`, retryable: false }),
        );
        res.on('error', (e) => resolve({ error: String(e), retryable: false }));
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ error: e.code ?? e.message, retryable: !answered && req.reusedSocket }),
      );
    });
  const worker = async (useAgent: boolean) => {
    while (!stop && count++ < MAX_REQUESTS && Date.now() < until) {
      let res = await get(useAgent);
      if ('error' in res && res.retryable) {
        r.retriedOnReusedConnection++;
        res = await get(false);
      }
      if ('error' in res) {
        if (r.failures.length < 50) r.failures.push(res.error);
        continue;
      }
      r.ok++;
      r.releases.add(opts.release(res.body));
    }
  };
  const workers = [worker(true), worker(true), worker(false), worker(false)];

  const socks: dgram.Socket[] = [];
  const got = new Set<number>();
  let timer: NodeJS.Timeout | null = null;
  if (opts.udpPort !== undefined) {
    const port = opts.udpPort;
    for (let i = 0; i < (opts.udpSockets ?? 4); i++) {
      const s = dgram.createSocket('udp4');
      s.on('message', (m, from) => {
        if (from.address !== '127.0.0.1' || from.port !== port) r.udpForeign.push(`${from.address}:${from.port}`);
        // Replies are `<release>|<pid>|seq:<n>`.
        const parts = String(m).split('|');
        const seq = /^seq:(\d+)$/.exec(parts[2] ?? '');
        if (seq) got.add(Number(seq[1]));
        r.udpReleases.add(parts[0] ?? '');
      });
      socks.push(s);
    }
    timer = setInterval(() => {
      if (r.udpSent >= MAX_REQUESTS || Date.now() > until) return;
      for (const s of socks) s.send(`seq:${r.udpSent++}`, port, '127.0.0.1');
    }, 10);
  }

  return async (): Promise<LoadResult> => {
    stop = true;
    if (timer) clearInterval(timer);
    await Promise.all(workers);
    agent.destroy();
    const deadline = Date.now() + 3_000;
    while (got.size < r.udpSent && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    for (const s of socks) s.close();
    for (let i = 0; i < r.udpSent; i++) if (!got.has(i)) r.udpLost.push(i);
    return r;
  };
}

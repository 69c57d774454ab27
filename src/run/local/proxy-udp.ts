/**
 * The UDP forwarder of `handoff: proxy`: datagrams arriving on the public socket are grouped
 * into flows by client address; each flow is pinned to one process and gets its own upstream
 * socket on 127.0.0.1, so the process sees a stable peer and its replies can be told apart and
 * sent back out of the PUBLIC socket (the client sees them come from the address it used).
 * A flow ends after `idleMs` without datagrams. Same small interface as the TCP proxy.
 */
import dgram from 'node:dgram';
import type { Backend } from './proxy-tcp.js';

export const DEFAULT_FLOW_IDLE_MS = 30_000;
/**
 * Datagrams that arrive while no process is set (a restarted supervisor reads what queued in
 * the held socket before it has pointed the proxy at the adopted processes) wait here, at most
 * this many and this long, and go out once there is one; beyond that they are dropped, as a
 * full socket buffer would drop them.
 */
export const DEFAULT_WAITING = { max: 1024, ms: 2_000 };
// How long a moved flow's old upstream socket still passes replies back.
const LINGER_MS = 300;

interface Flow {
  key: string;
  address: string;
  port: number;
  backend: Backend;
  upstream: dgram.Socket;
  lastSeen: number;
  /** Datagrams that arrived before the upstream socket was bound. */
  queue: Buffer[] | null;
}

export class UdpProxy {
  private backends: Backend[] = [];
  private readonly flows = new Map<string, Flow>();
  private readonly drainWaiters = new Map<string, Array<() => void>>();
  private rr = 0;
  private waiting: Array<{ msg: Buffer; address: string; port: number; at: number }> = [];
  private waitingDropped = 0;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly idleMs: number,
    private readonly log: (line: string) => void,
    private readonly waitLimit: { max: number; ms: number } = DEFAULT_WAITING,
  ) {
    socket.on('message', (msg, from) => this.forward(msg, from.address, from.port));
    socket.on('error', (e) => this.log(`proxy: ${e.message}`));
    this.sweeper = setInterval(() => this.expire(), Math.max(20, Math.min(1000, idleMs / 4)));
    this.sweeper.unref();
  }

  /** New flows go to these processes; live flows stay pinned while their process is in the set or draining. */
  setBackends(backends: Backend[]): void {
    this.backends = [...backends];
    if (this.backends.length === 0 || this.waiting.length === 0) return;
    const waited = this.waiting;
    this.waiting = [];
    const now = Date.now();
    for (const w of waited) {
      if (now - w.at > this.waitLimit.ms) this.waitingDropped++;
      else this.forward(w.msg, w.address, w.port);
    }
    if (this.waitingDropped > 0) {
      this.log(
        `proxy: dropped ${this.waitingDropped} datagram(s) that found no process (at most ${this.waitLimit.max} wait, for ${this.waitLimit.ms} ms)`,
      );
      this.waitingDropped = 0;
    }
  }

  flowsTo(id: string): number {
    let n = 0;
    for (const f of this.flows.values()) if (f.backend.id === id) n++;
    return n;
  }

  /**
   * Resolves once no flow is pinned to `id` (they went idle), or after `timeoutMs`. Flows still
   * pinned then move, on their next datagram, to a current backend (the caller is about to stop
   * that process); their old upstream sockets stay open `LINGER_MS` longer for replies in flight.
   */
  drain(id: string, timeoutMs: number): Promise<number> {
    if (this.flowsTo(id) === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(0);
      };
      const timer = setTimeout(() => {
        this.drainWaiters.set(
          id,
          (this.drainWaiters.get(id) ?? []).filter((w) => w !== done),
        );
        const moved = [...this.flows.values()].filter((f) => f.backend.id === id);
        for (const f of moved) this.flows.delete(f.key);
        setTimeout(() => {
          for (const f of moved) closeQuietly(f.upstream);
          resolve(moved.length);
        }, LINGER_MS);
      }, timeoutMs);
      const list = this.drainWaiters.get(id) ?? [];
      list.push(done);
      this.drainWaiters.set(id, list);
    });
  }

  close(): void {
    this.closed = true;
    this.waiting = [];
    clearInterval(this.sweeper);
    for (const f of [...this.flows.values()]) this.endFlow(f);
    closeQuietly(this.socket);
  }

  private pick(): Backend | null {
    const candidates = this.backends.filter((b) => b.available());
    const from = candidates.length > 0 ? candidates : this.backends;
    if (from.length === 0) return null;
    let least = Infinity;
    for (const b of from) least = Math.min(least, this.flowsTo(b.id));
    const tied = from.filter((b) => this.flowsTo(b.id) === least);
    return tied[this.rr++ % tied.length] ?? null;
  }

  private forward(msg: Buffer, address: string, port: number): void {
    if (this.closed) return;
    const key = `${address}|${port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      const backend = this.pick();
      // No process yet: the datagram waits a little for one (see DEFAULT_WAITING).
      if (!backend) return this.wait(msg, address, port);
      flow = this.openFlow(key, address, port, backend);
    }
    flow.lastSeen = Date.now();
    if (flow.queue) flow.queue.push(msg);
    else flow.upstream.send(msg);
  }

  private wait(msg: Buffer, address: string, port: number): void {
    const now = Date.now();
    const { max, ms } = this.waitLimit;
    while (this.waiting.length > 0 && (this.waiting.length >= max || now - this.waiting[0]!.at > ms)) {
      this.waiting.shift();
      this.waitingDropped++;
    }
    this.waiting.push({ msg, address, port, at: now });
  }

  private openFlow(key: string, address: string, port: number, backend: Backend): Flow {
    const upstream = dgram.createSocket('udp4');
    const flow: Flow = { key, address, port, backend, upstream, lastSeen: Date.now(), queue: [] };
    this.flows.set(key, flow);
    upstream.on('message', (reply) => {
      flow.lastSeen = Date.now();
      if (!this.closed) this.socket.send(reply, flow.port, flow.address);
    });
    // ICMP port unreachable (the process is restarting) shows up here; the next datagram retries.
    upstream.on('error', () => {});
    // Connected: the kernel then drops datagrams from anyone but the process, and a send needs no
    // address (no per-datagram lookup in Node): about a quarter less CPU per datagram in proxy-bench.
    upstream.bind({ address: '127.0.0.1', port: 0 }, () => {
      upstream.connect(backend.port, '127.0.0.1', () => {
        const queued = flow.queue ?? [];
        flow.queue = null;
        for (const m of queued) upstream.send(m);
      });
    });
    return flow;
  }

  private endFlow(f: Flow): void {
    if (this.flows.get(f.key) !== f) return;
    this.flows.delete(f.key);
    closeQuietly(f.upstream);
    if (this.flowsTo(f.backend.id) === 0) for (const w of this.drainWaiters.get(f.backend.id)?.splice(0) ?? []) w();
  }

  private expire(): void {
    const now = Date.now();
    for (const f of [...this.flows.values()]) if (now - f.lastSeen >= this.idleMs) this.endFlow(f);
  }
}

function closeQuietly(s: dgram.Socket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

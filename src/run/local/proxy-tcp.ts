/**
 * The layer-4 TCP forwarder of `handoff: proxy`: the supervisor accepts on the public port and
 * pipes each connection, both ways with back-pressure and half-close, to one process's private
 * port on 127.0.0.1. Self-contained behind a small interface (setBackends / drain / close) so a
 * supervisor that adopts running processes can re-attach it from the recorded private ports.
 *
 * A connection is bound to its backend for its whole life: a switch only changes where NEW
 * connections go, and `drain` waits for the old ones to end.
 */
import net from 'node:net';

/** One process's private port. `available()` turns false while it is down or stopping. */
export interface Backend {
  id: string;
  port: number;
  available(): boolean;
}

// A connection arriving while no backend answers (first start, a restart of the only process)
// waits this long for one instead of being refused.
const NO_BACKEND_WAIT_MS = 30_000;
const RETRY_EVERY_MS = 50;

export class TcpProxy {
  private backends: Backend[] = [];
  private readonly conns = new Map<string, Set<net.Socket>>();
  private readonly drainWaiters = new Map<string, Array<() => void>>();
  private rr = 0;
  private closed = false;

  /**
   * `server` must not be listening yet; it is given the already-bound `handle` (bound by the
   * caller, which reports bind errors synchronously).
   */
  constructor(
    private readonly server: net.Server,
    private readonly log: (line: string) => void,
  ) {
    server.on('connection', (client) => this.accept(client));
    server.on('error', (e) => this.log(`proxy: ${e.message}`));
  }

  /** New connections go to these processes from now on; established ones stay where they are. */
  setBackends(backends: Backend[]): void {
    this.backends = [...backends];
  }

  /** Connections open to `id` now. */
  connectionsTo(id: string): number {
    return this.conns.get(id)?.size ?? 0;
  }

  /**
   * Resolves once no connection to `id` is open (at once if none), or after `timeoutMs`, with
   * the number still open then. Pair it with setBackends without `id`, or it may never end.
   */
  drain(id: string, timeoutMs: number): Promise<number> {
    if (this.connectionsTo(id) === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(this.connectionsTo(id));
      };
      const timer = setTimeout(() => {
        const list = this.drainWaiters.get(id) ?? [];
        this.drainWaiters.set(
          id,
          list.filter((w) => w !== done),
        );
        done();
      }, timeoutMs);
      const list = this.drainWaiters.get(id) ?? [];
      list.push(done);
      this.drainWaiters.set(id, list);
    });
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    this.closed = true;
    this.server.close();
    for (const set of this.conns.values()) for (const s of set) s.destroy();
  }

  private pick(exclude: Set<string>): Backend | null {
    const candidates = this.backends.filter((b) => !exclude.has(b.id) && b.available());
    if (candidates.length === 0) return null;
    // Least connections; round robin among the equally loaded, so short requests still spread.
    let least = Infinity;
    for (const b of candidates) least = Math.min(least, this.connectionsTo(b.id));
    const tied = candidates.filter((b) => this.connectionsTo(b.id) === least);
    return tied[this.rr++ % tied.length] ?? null;
  }

  private accept(client: net.Socket): void {
    client.setNoDelay(true);
    // Until piped, a client's bytes wait in the kernel; an error before that only ends the attempt.
    client.on('error', () => client.destroy());
    const deadline = Date.now() + NO_BACKEND_WAIT_MS;
    const tried = new Set<string>();
    const attempt = (): void => {
      if (this.closed || client.destroyed) return void client.destroy();
      const b = this.pick(tried);
      if (!b) {
        // Every backend refused or none is up: start over after a pause, within the deadline.
        tried.clear();
        if (Date.now() >= deadline) return void client.destroy();
        setTimeout(attempt, RETRY_EVERY_MS);
        return;
      }
      tried.add(b.id);
      this.track(b.id, client);
      const upstream = net.connect({ host: '127.0.0.1', port: b.port, allowHalfOpen: true });
      upstream.setNoDelay(true);
      const onConnectError = () => {
        this.untrack(b.id, client);
        upstream.destroy();
        attempt();
      };
      upstream.once('error', onConnectError);
      upstream.once('connect', () => {
        upstream.off('error', onConnectError);
        this.pipe(b.id, client, upstream);
      });
    };
    attempt();
  }

  private pipe(id: string, client: net.Socket, upstream: net.Socket): void {
    const finish = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', finish);
    upstream.on('error', finish);
    // pipe() forwards back-pressure and, at `end`, half-closes the other side (allowHalfOpen).
    client.pipe(upstream);
    upstream.pipe(client);
    let closed = 0;
    const onClose = () => {
      if (++closed < 2) return finish();
      this.untrack(id, client);
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    // Once the process has closed its side (HTTP `Connection: close`, a keep-alive timeout), it
    // is done with this connection, even if the client is slow to close its own: a drain need
    // not wait for the client.
    upstream.once('end', () => this.untrack(id, client));
  }

  private track(id: string, client: net.Socket): void {
    let set = this.conns.get(id);
    if (!set) this.conns.set(id, (set = new Set()));
    set.add(client);
  }

  private untrack(id: string, client: net.Socket): void {
    const set = this.conns.get(id);
    if (!set?.delete(client) || set.size > 0) return;
    this.conns.delete(id);
    for (const w of this.drainWaiters.get(id)?.splice(0) ?? []) w();
  }
}

/** Wraps a bound, not yet listening TCP handle (from sockets.ts) in a proxy listening on it. */
export function startTcpProxy(handle: object, log: (line: string) => void): TcpProxy {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
  const proxy = new TcpProxy(server, log);
  server.listen(handle as net.ListenOptions);
  return proxy;
}

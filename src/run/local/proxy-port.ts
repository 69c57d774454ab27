/**
 * One public port served by the supervisor's proxy (`handoff: proxy`): binds it (bind errors
 * are thrown here, synchronously, like those of held sockets) and starts the TCP or UDP
 * forwarder on it. The port pool keeps one per public port, shared by the releases of one app.
 * The socket may come from elsewhere (`heldSocket`: the supervisor's fd holder, so it outlives
 * a killed supervisor): a TCP listener keeps its accept queue, a UDP socket its receive buffer.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { PortSpec } from '../../core/types.js';
import { startTcpProxy, type Backend } from './proxy-tcp.js';
import { UdpProxy } from './proxy-udp.js';
import { bindProxyTcpHandle, bindProxyUdpHandle } from './sockets.js';

/** What the rest of the supervisor needs of either forwarder. */
export interface PortProxy {
  readonly protocol: 'tcp' | 'udp';
  /** Resolves once the public port receives (UDP binds asynchronously); rejects if it cannot. */
  readonly ready: Promise<void>;
  setBackends(backends: Backend[]): void;
  drain(id: string, timeoutMs: number): Promise<number>;
  close(): void;
}

export interface ProxyOptions {
  /** A UDP flow with no datagram for this long ends (its next datagram may go elsewhere). */
  udpFlowIdleMs: number;
  /** Datagrams kept while a UDP port has no process (default DEFAULT_WAITING: 1024, for 2 s). */
  udpWaiting?: { max: number; ms: number };
  log(line: string): void;
  /**
   * Where a port's socket comes from (default: bound here). The supervisor takes it from a
   * killed predecessor's fd holder, or binds it, and keeps a copy in its own holder (`release`
   * drops that copy when the proxy closes): while no supervisor runs, TCP connections wait in
   * the kernel's accept queue and UDP datagrams in the socket's receive buffer instead of being
   * refused or dropped.
   */
  heldSocket?: (spec: PortSpec) => { handle: object; release(): void };
}

export function openPortProxy(spec: PortSpec, opts: ProxyOptions): PortProxy {
  const where = `${spec.address}:${spec.port}/${spec.protocol}`;
  const log = (line: string) => opts.log(`${where}: ${line}`);
  if (spec.protocol === 'tcp') {
    const listener = opts.heldSocket?.(spec) ?? { handle: bindProxyTcpHandle(spec).handle, release: () => {} };
    const proxy = startTcpProxy(listener.handle, log);
    return {
      protocol: 'tcp',
      ready: Promise.resolve(),
      setBackends: (b) => proxy.setBackends(b),
      drain: (id, ms) => proxy.drain(id, ms),
      close: () => {
        listener.release();
        proxy.close();
      },
    };
  }
  // Bound (or taken) here, synchronously: port_in_use, port_denied, … (sctp and bad addresses too).
  const held = opts.heldSocket?.(spec) ?? { handle: bindProxyUdpHandle(spec).handle, release: () => {} };
  const socket = dgram.createSocket({ type: isIPv6(spec.address) ? 'udp6' : 'udp4' });
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    // dgram adopts a UDP handle given in place of a port (what child_process does with a
    // received dgram socket); `bind({ fd })` would refuse a descriptor the event loop knows.
    socket.bind(held.handle as unknown as number, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  ready.catch(() => {}); // awaited by the switch; never an unhandled rejection
  const proxy = new UdpProxy(socket, opts.udpFlowIdleMs, log, opts.udpWaiting);
  return {
    protocol: 'udp',
    ready,
    setBackends: (b) => proxy.setBackends(b),
    drain: (id, ms) => proxy.drain(id, ms),
    close: () => {
      held.release();
      proxy.close();
    },
  };
}

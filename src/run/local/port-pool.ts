/**
 * The public ports the supervisor holds, shared by every process that declares them. A port
 * is keyed by protocol/address/port and owned by the releases that declare it; it stays open
 * while any owner remains, so an old and a new release overlap on one port during a switch,
 * and it is closed when the last owner lets go. A port is held one of two ways, by its
 * `handoff`: as a socket handed to the processes (`fds`) or served by a proxy (`proxy`).
 */
import { BrrError, conflict } from '../../core/errors.js';
import type { PortSpec } from '../../core/types.js';
import { openPortProxy, type PortProxy, type ProxyOptions } from './proxy-port.js';
import { bindHeldSocket, type HeldSocket } from './sockets.js';

/** One declared port as a release holds it: a socket to hand over, or a proxy to give backends. */
export type AcquiredPort =
  | { spec: PortSpec; key: string; handoff: 'fds'; socket: HeldSocket }
  | { spec: PortSpec; key: string; handoff: 'proxy'; proxy: PortProxy };

interface Held {
  socket: HeldSocket | null;
  proxy: PortProxy | null;
  app: string;
  owners: Set<string>;
}

export function portKey(p: Pick<PortSpec, 'protocol' | 'address' | 'port'>): string {
  return `${p.protocol}/${p.address}/${p.port}`;
}

export function handoffOf(p: Pick<PortSpec, 'handoff'>): 'proxy' | 'fds' {
  return p.handoff ?? 'proxy';
}

const NO_PROXY: ProxyOptions = { udpFlowIdleMs: 30_000, log: () => {} };

export class PortPool {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly bind: (spec: PortSpec) => HeldSocket = bindHeldSocket,
    private readonly proxyOptions: ProxyOptions = NO_PROXY,
  ) {}

  /**
   * The ports in `ports`, binding those not held yet, on behalf of `owner` (one release of
   * `app`). A handed-over socket carries the name this declaration gives it (LISTEN_FDNAMES)
   * and a no-op close: only the pool closes the real socket. All-or-nothing: on a bind error
   * the ports bound by this call are closed again.
   */
  acquire(app: string, owner: string, ports: PortSpec[]): AcquiredPort[] {
    const claimed: string[] = [];
    try {
      return ports.map((spec): AcquiredPort => {
        const key = portKey(spec);
        const handoff = handoffOf(spec);
        let h = this.held.get(key);
        if (h && h.app !== app) {
          throw conflict(
            'port_in_use',
            `port ${spec.name}: ${spec.address}:${spec.port}/${spec.protocol} is held for app ${h.app}`,
            `two apps cannot share a port: change the port in brr.yaml of ${app} or ${h.app}`,
          );
        }
        if (h && (h.proxy ? 'proxy' : 'fds') !== handoff) {
          throw new BrrError(
            'handoff_changed',
            `port ${spec.name}: ${spec.address}:${spec.port}/${spec.protocol} is held with handoff: ${h.proxy ? 'proxy' : 'fds'} for the running release, and this one declares handoff: ${handoff}`,
            {
              hint: `one port cannot be proxied and handed over at once: deploy this change with \`switch: stop-first\` on processes.<type> (the old release stops first), then remove it again`,
            },
          );
        }
        if (!h) {
          h =
            handoff === 'fds'
              ? { socket: this.bind(spec), proxy: null, app, owners: new Set() }
              : { socket: null, proxy: openPortProxy(spec, this.proxyOptions), app, owners: new Set() };
          this.held.set(key, h);
        }
        if (!h.owners.has(owner)) {
          h.owners.add(owner);
          claimed.push(key);
        }
        if (h.proxy) return { spec, key, handoff: 'proxy', proxy: h.proxy };
        const s = h.socket as HeldSocket;
        const socket = {
          name: spec.name,
          protocol: s.protocol,
          address: s.address,
          port: s.port,
          fd: s.fd,
          close: () => {},
        };
        return { spec, key, handoff: 'fds', socket };
      });
    } catch (e) {
      for (const key of claimed) this.drop(key, owner);
      throw e;
    }
  }

  /** Drops `owner`'s claim on every port; ports nobody claims any more are closed. */
  releaseOwner(owner: string): void {
    for (const key of [...this.held.keys()]) this.drop(key, owner);
  }

  private drop(key: string, owner: string): void {
    const h = this.held.get(key);
    if (!h || !h.owners.delete(owner) || h.owners.size > 0) return;
    closeHeld(h);
    this.held.delete(key);
  }

  closeAll(): void {
    for (const h of this.held.values()) closeHeld(h);
    this.held.clear();
  }

  /** Keys of the ports held now (for status and tests). */
  keys(): string[] {
    return [...this.held.keys()];
  }
}

function closeHeld(h: Held): void {
  h.socket?.close();
  h.proxy?.close();
}

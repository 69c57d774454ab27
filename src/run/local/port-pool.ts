/**
 * The declared ports the supervisor holds, shared by every process that declares them. A
 * socket is keyed by protocol/address/port and owned by the releases that declare it; it stays
 * open while any owner remains, so an old and a new release overlap on one socket during a
 * switch, and it is closed when the last owner lets go.
 */
import { conflict } from '../../core/errors.js';
import type { PortSpec } from '../../core/types.js';
import { bindHeldSocket, type HeldSocket } from './sockets.js';

interface Held {
  socket: HeldSocket;
  app: string;
  owners: Set<string>;
}

export function portKey(p: Pick<PortSpec, 'protocol' | 'address' | 'port'>): string {
  return `${p.protocol}/${p.address}/${p.port}`;
}

export class PortPool {
  private readonly held = new Map<string, Held>();

  constructor(private readonly bind: (spec: PortSpec) => HeldSocket = bindHeldSocket) {}

  /**
   * The sockets for `ports`, binding those not held yet, on behalf of `owner` (one release of
   * `app`). Each returned socket carries the name this declaration gives it (LISTEN_FDNAMES)
   * and a no-op close: only the pool closes the real socket. All-or-nothing: on a bind error
   * the sockets bound by this call are closed again.
   */
  acquire(app: string, owner: string, ports: PortSpec[]): HeldSocket[] {
    const claimed: string[] = [];
    try {
      return ports.map((spec) => {
        const key = portKey(spec);
        let h = this.held.get(key);
        if (h && h.app !== app) {
          throw conflict(
            'port_in_use',
            `port ${spec.name}: ${spec.address}:${spec.port}/${spec.protocol} is held for app ${h.app}`,
            `two apps cannot share a port: change the port in brr.yaml of ${app} or ${h.app}`,
          );
        }
        if (!h) {
          h = { socket: this.bind(spec), app, owners: new Set() };
          this.held.set(key, h);
        }
        if (!h.owners.has(owner)) {
          h.owners.add(owner);
          claimed.push(key);
        }
        const s = h.socket;
        return { name: spec.name, protocol: s.protocol, address: s.address, port: s.port, fd: s.fd, close: () => {} };
      });
    } catch (e) {
      for (const key of claimed) this.drop(key, owner);
      throw e;
    }
  }

  /** Drops `owner`'s claim on every socket; sockets nobody claims any more are closed. */
  releaseOwner(owner: string): void {
    for (const key of [...this.held.keys()]) this.drop(key, owner);
  }

  private drop(key: string, owner: string): void {
    const h = this.held.get(key);
    if (!h || !h.owners.delete(owner) || h.owners.size > 0) return;
    h.socket.close();
    this.held.delete(key);
  }

  closeAll(): void {
    for (const h of this.held.values()) h.socket.close();
    this.held.clear();
  }

  /** Keys of the sockets held now (for status and tests). */
  keys(): string[] {
    return [...this.held.keys()];
  }
}

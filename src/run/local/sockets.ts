/**
 * Sockets the supervisor owns and hands to its children (systemd's LISTEN_FDS convention:
 * socket i is at fd 3+i, LISTEN_FDNAMES names them). Because the supervisor holds them, old and
 * new releases share one socket during a switch and no connection or datagram is refused.
 *
 * The supervisor must never accept or read on these sockets itself: a Node server that listens
 * also accepts, and connections it accepts hang. So the sockets are made with Node's internal
 * `tcp_wrap`/`udp_wrap` handles, which can bind without listening or reading.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { BrrError, invalidInput } from '../../core/errors.js';
import type { PortSpec, Protocol } from '../../core/types.js';

/** A bound socket held by the supervisor, to be passed to children by `fd`. */
export interface HeldSocket {
  name: string;
  protocol: Protocol;
  address: string;
  /** The bound port (read back from the kernel, so real even when bound to port 0). */
  port: number;
  fd: number;
  /** Closes the supervisor's copy; children keep theirs. Idempotent. */
  close(): void;
  /** Node's native handle of the socket (what the fd holder is sent); absent on pool copies. */
  nativeHandle?: unknown;
}

// The few methods of Node's internal handles used here. Return values are 0 or a negative errno.
interface NativeHandle {
  readonly fd: number;
  bind(address: string, port: number, flags?: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { address?: string; port?: number }): number;
  close(): void;
}
interface Bindings {
  TCP: new (type: number) => NativeHandle;
  tcpServerType: number;
  UDP: new () => NativeHandle;
}

let bindings: Bindings | undefined;

function loadBindings(): Bindings {
  if (bindings) return bindings;
  // process.binding is deprecated (DEP0111, printed only with --pending-deprecation). There is no
  // public API that binds without listening, so use it and keep the warning off the user's terminal.
  const proc = process as unknown as { binding(name: string): unknown; noDeprecation?: boolean };
  const saved = proc.noDeprecation;
  proc.noDeprecation = true;
  try {
    const tcp = proc.binding('tcp_wrap') as { TCP: Bindings['TCP']; constants: { SERVER: number } };
    const udp = proc.binding('udp_wrap') as { UDP: Bindings['UDP'] };
    bindings = { TCP: tcp.TCP, tcpServerType: tcp.constants.SERVER, UDP: udp.UDP };
    return bindings;
  } finally {
    proc.noDeprecation = saved;
  }
}

/**
 * Binds `spec.address:spec.port` and holds it for children. TCP sockets are also put into the
 * listening state (by a short-lived helper process, so the supervisor never accepts): a second
 * bind of the same port then fails here rather than in a child, and connections arriving while
 * no child accepts (before the first one starts, or between an old one's exit and a new one's
 * `listen`) wait in the kernel's accept queue instead of being refused.
 */
export function bindHeldSocket(spec: PortSpec): HeldSocket {
  const sock = bindSocket(spec.name, spec.protocol, spec.address, spec.port);
  if (spec.protocol === 'tcp') {
    try {
      listenWithoutAccepting(sock);
    } catch (e) {
      sock.close();
      throw e;
    }
  }
  return sock;
}

/**
 * A private TCP socket on 127.0.0.1 with a kernel-chosen port, for one process's health checks
 * (the shared port could hand a check to another release's process). It is left un-listened so
 * a check is refused until the process itself listens on it. Bind a fresh one per incarnation.
 */
export function bindPrivateTcp(name = 'health'): HeldSocket {
  return bindSocket(name, 'tcp', '127.0.0.1', 0);
}

/** Environment announcing `sockets` to a child (fds from 3, in order). */
export function listenFdsEnv(sockets: HeldSocket[], pid?: number): Record<string, string> {
  const env: Record<string, string> = {
    LISTEN_FDS: String(sockets.length),
    LISTEN_FDNAMES: sockets.map((s) => s.name).join(':'),
  };
  if (pid !== undefined) env.LISTEN_PID = String(pid);
  return env;
}

/** The tail of a child's `stdio` array (after stdin, stdout, stderr): socket i lands at fd 3+i. */
export function stdioFor(sockets: HeldSocket[]): number[] {
  return sockets.map((s) => s.fd);
}

/**
 * Binds a TCP socket for the supervisor's own proxy (`handoff: proxy`) and returns Node's handle
 * for `net.Server#listen(handle)`: bind errors are reported here, synchronously, with the same
 * codes and hints as for held sockets. The server owns the handle from then on.
 */
export function bindProxyTcpHandle(spec: PortSpec): { handle: object; port: number } {
  const { handle, port } = bindHandle(spec.name, 'tcp', spec.address, spec.port);
  return { handle, port };
}

/**
 * Binds a UDP socket for the supervisor's own proxy and returns Node's handle, which a
 * `dgram.Socket` adopts (proxy-port.ts), as one received from the fd holder is: bind errors are
 * reported here, synchronously, with the same codes and hints as for held sockets.
 */
export function bindProxyUdpHandle(spec: PortSpec): { handle: NativeHandle; port: number } {
  return bindHandle(spec.name, 'udp', spec.address, spec.port);
}

/**
 * A port on 127.0.0.1 that is free now, for one process's private use. Chosen BELOW the kernel's
 * ephemeral range: a port from that range could be taken by an outgoing connection (the proxy
 * itself makes many) between this check and the process's own bind, which would then fail with
 * EADDRINUSE. Falls back to a kernel-chosen port when nothing below the range is free.
 */
export function freePrivatePort(protocol: 'tcp' | 'udp'): number {
  const [low] = ephemeralRange();
  const floor = 10_000;
  for (let i = 0; i < 64 && low > floor + 100; i++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    try {
      bindHandle('private', protocol, '127.0.0.1', port).handle.close();
      return port;
    } catch {
      // taken: try another
    }
  }
  const { handle, port } = bindHandle('private', protocol, '127.0.0.1', 0);
  handle.close();
  return port;
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux: assume the IANA range
  }
  return [49152, 65535];
}

function bindSocket(name: string, protocol: Protocol, address: string, port: number): HeldSocket {
  const b = bindHandle(name, protocol, address, port);
  const handle = b.handle;
  let open = true;
  return {
    name,
    protocol,
    address,
    port: b.port,
    fd: handle.fd,
    nativeHandle: handle,
    close() {
      if (!open) return;
      open = false;
      handle.close();
    },
  };
}

function bindHandle(
  name: string,
  protocol: Protocol,
  address: string,
  port: number,
): { handle: NativeHandle; port: number } {
  const v6 = isIPv6(address);
  if (!v6 && !isIPv4(address)) {
    throw invalidInput(
      'invalid_address',
      `port ${name}: bind address ${JSON.stringify(address)} is not an IP address`,
      'use an IPv4 or IPv6 address in brr.yaml (127.0.0.1, 0.0.0.0, ::1, ::), not a host name',
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidInput(
      'invalid_port',
      `port ${name}: ${port} is not a port number`,
      'use a port between 1 and 65535 in brr.yaml',
    );
  }
  if ((protocol as string) === 'sctp') {
    throw invalidInput(
      'sctp_unsupported_locally',
      `port ${name}: SCTP ports cannot be run by the local supervisor (Node has no SCTP sockets)`,
      'run this app on Kubernetes (`brr apps set APP --target kubernetes …`), or declare the port as tcp or udp',
    );
  }
  const b = loadBindings();
  const handle = protocol === 'tcp' ? new b.TCP(b.tcpServerType) : new b.UDP();
  // flags 0: no SO_REUSEADDR for UDP (a second bind must fail), dual-stack for `::`.
  const rc = v6 ? handle.bind6(address, port, 0) : handle.bind(address, port, 0);
  const where = `${v6 ? `[${address}]` : address}:${port}/${protocol}`;
  if (rc !== 0) {
    handle.close();
    throw bindError(rc, name, where, port, protocol);
  }
  // libuv defers a TCP bind's EADDRINUSE to the next call on the handle, so this read-back is
  // also where a taken TCP port shows up.
  const out: { address?: string; port?: number } = {};
  const grc = handle.getsockname(out);
  if (grc !== 0 || out.port === undefined) {
    handle.close();
    throw bindError(grc, name, where, port, protocol);
  }
  return { handle, port: out.port };
}

function bindError(rc: number, name: string, where: string, port: number, protocol: Protocol): BrrError {
  const errno = rc < 0 ? getSystemErrorName(rc) : `error ${rc}`;
  const details = { port, protocol, errno };
  if (errno === 'EADDRINUSE') {
    const ssFlag = protocol === 'tcp' ? 'ltnp' : 'lunp';
    return new BrrError('port_in_use', `port ${name}: ${where} is already in use`, {
      hint: `find the process holding it with \`ss -${ssFlag} 'sport = :${port}'\`, or change the port in brr.yaml`,
      details,
    });
  }
  if (errno === 'EACCES') {
    return new BrrError('port_denied', `port ${name}: not allowed to bind ${where}`, {
      hint: `ports below 1024 need root or CAP_NET_BIND_SERVICE (or lower net.ipv4.ip_unprivileged_port_start); or use a port >= 1024 in brr.yaml`,
      details,
    });
  }
  if (errno === 'EADDRNOTAVAIL') {
    return new BrrError('address_unavailable', `port ${name}: cannot bind ${where}: the address is not on this host`, {
      hint: 'use an address of this host (see `ip addr`), 127.0.0.1 or 0.0.0.0 in brr.yaml',
      details,
    });
  }
  return new BrrError('socket_failed', `port ${name}: cannot bind ${where}: ${errno}`, { details });
}

// Runs listen(2) on the socket in a throw-away process that exits before its event loop could
// ever accept. The listening state belongs to the socket, not to a process, so it stays after the
// helper exits and every child's `listen({ fd })` joins the same accept queue.
const LISTEN_HELPER = [
  "const { TCP, constants } = process.binding('tcp_wrap');",
  'const h = new TCP(constants.SERVER);',
  'let rc = h.open(3);',
  'if (rc === 0) rc = h.listen(511);',
  "require('fs').writeSync(1, String(rc));",
  'process.exit(0);',
].join('\n');

function listenWithoutAccepting(sock: HeldSocket): void {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['--no-warnings', '-e', LISTEN_HELPER], {
    stdio: ['ignore', 'pipe', 'pipe', sock.fd],
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const rc = Number(r.stdout?.trim());
  if (r.status === 0 && rc === 0) return;
  const where = `${sock.address}:${sock.port}/tcp`;
  if (r.status === 0 && Number.isInteger(rc) && rc < 0) {
    throw bindError(rc, sock.name, where, sock.port, 'tcp');
  }
  throw new BrrError(
    'socket_failed',
    `port ${sock.name}: cannot listen on ${where}: helper ${process.execPath} failed`,
    {
      details: { status: r.status, signal: r.signal, stderr: (r.stderr ?? '').slice(-2000), error: r.error?.message },
    },
  );
}

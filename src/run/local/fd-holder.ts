/**
 * The fd holder: a tiny detached Node process per brr home that keeps a copy of every file
 * descriptor a supervisor would lose if it were killed — the public listening sockets and the
 * read ends of the children's stdout/stderr pipes — so that a new supervisor can adopt the
 * running processes instead of restarting them (docs/architecture.md, "Supervisor restart").
 *
 * Why a process and why this protocol: Linux only moves a descriptor between unrelated
 * processes with SCM_RIGHTS over a Unix socket (pidfd_getfd is not reachable from Node, and
 * opening /proc/<pid>/fd/<n> of a socket fails with ENXIO). Node sends descriptors only on "IPC"
 * pipes. The supervisor feeds the holder through the public child_process IPC channel
 * (`send(msg, handle)`). The holder serves a new supervisor on `<run>/fd-holder.sock` with Node's
 * internal pipe_wrap handles (the same family of internals sockets.ts already uses): the accepted
 * connection is reopened as an IPC pipe, and each descriptor goes out with one JSON line,
 * acknowledged by the receiver before the next (one descriptor per read, so they pair with their
 * line). After the final acknowledgement the holder exits: the new supervisor starts a fresh one.
 * Keeping the pipes' read ends also means a child writing to stdout never gets EPIPE while no
 * supervisor exists (it blocks once the 64 KiB pipe buffer is full, until the next one reads).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { withSocketAddress } from './socket-address.js';
import { HOME_MARKER_VAR } from './launch-plan.js';
import { ROLE_VAR } from './strays.js';

/** A descriptor handed over, with what the sender said about it. */
export interface HeldItem {
  key: string;
  meta: Record<string, unknown>;
  /** A native handle (TCPWrap, UDPWrap or Pipe) with `fd` and `close()`. */
  handle: NativeHandle;
}

export interface NativeHandle {
  readonly fd: number;
  close(): void;
}

export function holderSocketPath(runDir: string): string {
  return path.join(runDir, 'fd-holder.sock');
}

const HOLDER_SCRIPT = String.raw`
'use strict';
const { Pipe, constants: PC } = process.binding('pipe_wrap');
process.binding('tcp_wrap');
process.binding('udp_wrap');
const { WriteWrap, streamBaseState, kReadBytesOrError } = process.binding('stream_wrap');
const sockPath = process.env.BRR_FD_HOLDER_SOCK;
const held = new Map();
process.on('message', (m, h) => {
  if (!m || typeof m !== 'object') return;
  if (m.op === 'hold' && h) {
    const old = held.get(m.key);
    if (old && old.handle !== h) old.handle.close();
    held.set(m.key, { meta: m.meta || {}, handle: h });
  } else if (m.op === 'drop') {
    const old = held.get(m.key);
    if (old) { old.handle.close(); held.delete(m.key); }
  } else if (m.op === 'exit') {
    process.exit(0);
  }
});
// The supervisor going away is exactly when this process matters: stay.
process.on('disconnect', () => {});
try { require('fs').rmSync(sockPath, { force: true }); } catch {}
const server = new Pipe(PC.SERVER);
let rc = server.bind(sockPath);
if (rc === 0) rc = server.listen(8);
if (rc !== 0) { process.send && process.send({ op: 'failed', rc }); process.exit(1); }
require('fs').chmodSync(sockPath, 0o600);
let busy = false;
server.onconnection = (err, client) => {
  if (err || !client || busy) return;
  busy = true;
  const ipc = new Pipe(PC.IPC);
  // The accepted wrap is not an IPC pipe (it cannot carry descriptors); reopen its fd as one.
  // The old wrap is never closed: the fd is the IPC pipe's now, and this process exits soon.
  if (ipc.open(client.fd) !== 0) { busy = false; return; }
  const items = [...held.entries()];
  let i = 0;
  let ended = false;
  const write = (line, handle) => {
    const req = new WriteWrap();
    req.handle = ipc;
    req.oncomplete = () => {};
    req.async = false;
    return handle ? ipc.writeUtf8String(req, line, handle) : ipc.writeUtf8String(req, line);
  };
  const next = () => {
    if (ended) { process.exit(0); }
    const item = items[i++];
    if (!item) { ended = true; write(JSON.stringify({ end: true, count: items.length, pid: process.pid }) + '\n'); return; }
    const [key, v] = item;
    if (write(JSON.stringify({ key, meta: v.meta }) + '\n', v.handle) !== 0) { busy = false; ipc.close(); }
  };
  ipc.onread = () => {
    const n = streamBaseState[kReadBytesOrError];
    if (n < 0 && ended) process.exit(0);
    // The receiver died mid-way: keep everything for the next one.
    if (n < 0) { busy = false; ipc.close(); return; }
    next();
  };
  ipc.readStart();
  next();
};
process.send && process.send({ op: 'ready' });
`;

/** The supervisor's end of a running holder: feeds it descriptors as they come and go. */
export class FdHolder {
  private alive = true;
  /** Called when the holder exits on its own (killed): the supervisor starts another. */
  onExit: (() => void) | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.once('exit', () => {
      this.alive = false;
      this.onExit?.();
    });
    child.on('error', () => {});
    // A send to a holder that died must not throw at the supervisor.
    child.channel?.on?.('error', () => {});
  }

  /** Starts a holder listening on `<runDir>/fd-holder.sock`; null (logged) when it cannot start. */
  static async start(runDir: string, homeRoot: string, log: (l: string) => void): Promise<FdHolder | null> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // Relative to its working directory (the run directory), so any home path length fits sun_path.
      BRR_FD_HOLDER_SOCK: path.basename(holderSocketPath(runDir)),
      [HOME_MARKER_VAR]: homeRoot,
      [ROLE_VAR]: 'fd-holder',
    };
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--no-warnings', '-e', HOLDER_SCRIPT], {
        cwd: runDir,
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
        env,
      });
    } catch (e) {
      log(`fd holder could not be started: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 10_000);
      child.once('message', (m: { op?: string }) => {
        clearTimeout(t);
        resolve(m?.op === 'ready');
      });
      child.once('exit', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill('SIGKILL');
      log('fd holder did not start; a supervisor restart will restart the apps');
      return null;
    }
    child.unref();
    child.channel?.unref();
    return new FdHolder(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  isAlive(): boolean {
    return this.alive && this.child.connected;
  }

  hold(key: string, meta: Record<string, unknown>, handle: unknown): void {
    if (!this.isAlive() || !handle) return;
    try {
      this.child.send({ op: 'hold', key, meta }, handle as never);
    } catch {
      // A holder that died is noticed by its exit event.
    }
  }

  drop(key: string): void {
    if (!this.isAlive()) return;
    try {
      this.child.send({ op: 'drop', key });
    } catch {
      // As above.
    }
  }

  /** Stops the holder (supervisor shutdown: nothing is left to adopt). */
  stop(runDir: string): void {
    this.onExit = null;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    rmSync(holderSocketPath(runDir), { force: true });
  }
}

interface PipeBindings {
  Pipe: new (type: number) => RawPipe;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  IPC: number;
  WriteWrap: new () => { handle?: unknown; oncomplete?: () => void; async?: boolean };
  state: Int32Array;
  kRead: number;
  kOffset: number;
}
interface RawPipe {
  connect(req: unknown, path: string): number;
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: unknown, s: string): number;
  close(): void;
  onread?: (ab: ArrayBuffer | undefined) => void;
  pendingHandle: NativeHandle | null;
}

function pipeBindings(): PipeBindings {
  const proc = process as unknown as { binding(name: string): Record<string, unknown>; noDeprecation?: boolean };
  const saved = proc.noDeprecation;
  proc.noDeprecation = true;
  try {
    const pw = proc.binding('pipe_wrap') as {
      Pipe: PipeBindings['Pipe'];
      PipeConnectWrap: PipeBindings['PipeConnectWrap'];
      constants: { IPC: number };
    };
    // Received TCP/UDP handles are instantiated from these bindings' templates: load them first.
    proc.binding('tcp_wrap');
    proc.binding('udp_wrap');
    const sw = proc.binding('stream_wrap') as {
      WriteWrap: PipeBindings['WriteWrap'];
      streamBaseState: Int32Array;
      kReadBytesOrError: number;
      kArrayBufferOffset: number;
    };
    return {
      Pipe: pw.Pipe,
      PipeConnectWrap: pw.PipeConnectWrap,
      IPC: pw.constants.IPC,
      WriteWrap: sw.WriteWrap,
      state: sw.streamBaseState,
      kRead: sw.kReadBytesOrError,
      kOffset: sw.kArrayBufferOffset,
    };
  } finally {
    proc.noDeprecation = saved;
  }
}

/**
 * Takes every descriptor from the holder of a killed predecessor. Resolves to [] when there is
 * no holder (or it fails mid-way: what was received is closed again and the holder keeps its
 * copies). Bounded by `timeoutMs`.
 */
export function takeFromHolder(runDir: string, timeoutMs = 5_000): Promise<HeldItem[]> {
  // A long home's socket path does not fit in sun_path: connect through the run directory's fd.
  return withSocketAddress(
    holderSocketPath(runDir),
    (address) => takeFromHolderAt(address, timeoutMs),
    () => [],
  ).catch(() => []);
}

function takeFromHolderAt(address: string, timeoutMs: number): Promise<HeldItem[]> {
  const b = pipeBindings();
  const pipe = new b.Pipe(b.IPC);
  const items: HeldItem[] = [];
  const pending: NativeHandle[] = [];
  let buf = '';
  return new Promise<HeldItem[]>((resolve) => {
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      pipe.readStop();
      pipe.close();
      if (!ok) for (const h of [...items.map((i) => i.handle), ...pending]) h.close();
      resolve(ok ? items : []);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const ack = (): void => {
      const w = new b.WriteWrap();
      w.handle = pipe;
      w.oncomplete = () => {};
      w.async = false;
      if (pipe.writeUtf8String(w, '\n') !== 0) finish(false);
    };
    const req = new b.PipeConnectWrap();
    req.oncomplete = (status: number) => {
      if (status !== 0) return finish(false);
      pipe.onread = (ab) => {
        const n = b.state[b.kRead] ?? -1;
        if (pipe.pendingHandle) {
          pending.push(pipe.pendingHandle);
          pipe.pendingHandle = null;
        }
        if (n < 0 || !ab) return finish(false);
        buf += Buffer.from(ab, b.state[b.kOffset] ?? 0, n).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let msg: { key?: string; meta?: Record<string, unknown>; end?: boolean };
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            return finish(false);
          }
          if (msg.end) {
            ack();
            // It exits on this acknowledgement; make sure no stale copy of a port outlives the handoff.
            const pid = (msg as { pid?: unknown }).pid;
            if (typeof pid === 'number' && pid > 1) setTimeout(() => killQuietly(pid), 500).unref();
            return finish(true);
          }
          const handle = pending.shift();
          if (!handle || typeof msg.key !== 'string') return finish(false);
          items.push({ key: msg.key, meta: msg.meta ?? {}, handle });
          ack();
        }
      };
      if (pipe.readStart() !== 0) finish(false);
    };
    if (pipe.connect(req, address) !== 0) finish(false);
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone, as it should be.
  }
}

/**
 * Every descriptor the supervisor wants a holder to keep, remembered so a holder started later
 * (or again, after it died) is fed all of them.
 */
export class HeldFds {
  private readonly items = new Map<string, { meta: Record<string, unknown>; handle: unknown }>();
  private holder: FdHolder | null = null;
  private stopped = false;
  private restarts = 0;

  hold(key: string, meta: Record<string, unknown>, handle: unknown): void {
    if (!handle) return;
    this.items.set(key, { meta, handle });
    this.holder?.hold(key, meta, handle);
  }

  drop(key: string): void {
    if (this.items.delete(key)) this.holder?.drop(key);
  }

  attach(holder: FdHolder | null): void {
    this.holder = holder;
    if (holder) for (const [key, v] of this.items) holder.hold(key, v.meta, v.handle);
  }

  /**
   * Starts a holder and keeps one running: if it is killed while this supervisor lives, another
   * is started and fed everything (at most 20 times: a holder that keeps dying is logged and
   * given up, and a later supervisor restart restarts the apps instead of adopting them).
   */
  async keepHolder(runDir: string, homeRoot: string, log: (l: string) => void): Promise<void> {
    if (this.stopped) return;
    const h = await FdHolder.start(runDir, homeRoot, log);
    if (this.stopped) {
      h?.stop(runDir);
      return;
    }
    this.attach(h);
    if (!h) return;
    h.onExit = () => {
      if (this.stopped || this.holder !== h) return;
      this.holder = null;
      if (++this.restarts > 20) return log('fd holder keeps exiting; not starting it again');
      log('fd holder exited; starting another');
      void this.keepHolder(runDir, homeRoot, log);
    };
  }

  holderAlive(): boolean {
    return this.holder?.isAlive() ?? false;
  }

  stop(runDir: string): void {
    this.stopped = true;
    this.holder?.stop(runDir);
    this.holder = null;
    this.items.clear();
  }
}

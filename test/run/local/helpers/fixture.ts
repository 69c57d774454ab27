/**
 * Shared set-up for the local supervisor's integration tests: real release directories (copies
 * of the sample network function), free ports, an in-memory test double of the ledger, and
 * helpers to look at real processes in /proc.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../../src/core/clock.js';
import { homePaths, type HomePaths } from '../../../../src/core/home.js';
import type { EventType, ProcessSpec } from '../../../../src/core/types.js';
import { connectSupervisor, type SupervisorClient } from '../../../../src/run/local/client.js';
import { HOME_MARKER_VAR } from '../../../../src/run/local/launch-plan.js';
import { hasEnvEntry, isLive, listProcesses } from '../../../../src/core/proc.js';
import { runSupervisor, type SupervisorOptions } from '../../../../src/run/local/supervisor.js';
import type { RunSpec, SupervisorDeps } from '../../../../src/run/types.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const SAMPLE_SRC = path.join(REPO, 'examples/udp-counter/src');

export function tempHome(prefix = 'brr-sup-'): HomePaths {
  return homePaths(mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** A materialized release of the sample NF: its sources plus the build-info.json its build writes. */
export function writeSampleRelease(
  home: HomePaths,
  app: string,
  release: string,
  extraFiles: Record<string, string> = {},
): string {
  const dir = path.join(home.releases, app, release);
  mkdirSync(dir, { recursive: true });
  cpSync(SAMPLE_SRC, dir, { recursive: true });
  writeFileSync(path.join(dir, 'build-info.json'), JSON.stringify({ builtFrom: '2024-01-01T00:00:00.000Z' }) + '\n');
  for (const [name, text] of Object.entries(extraFiles)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** A port nobody uses right now (bound to 0, read back, released). */
export async function freePort(protocol: 'tcp' | 'udp'): Promise<number> {
  if (protocol === 'tcp') {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    return port;
  }
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The sample's process type, as brr.yaml declares it (`handoff: fds`), on the given ports. */
export function sampleProcess(httpPort: number, udpPort: number, over: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    command: 'node nf.mjs',
    scale: 1,
    ports: [
      { name: 'http', port: httpPort, protocol: 'tcp', address: '127.0.0.1', handoff: 'fds' },
      { name: 'data', port: udpPort, protocol: 'udp', address: '127.0.0.1', handoff: 'fds' },
    ],
    health: { check: { kind: 'http', path: '/healthz', port: 'http' }, timeoutMs: 10_000, intervalMs: 50, upForMs: 0 },
    graceMs: 5_000,
    restart: 'always',
    ...over,
  };
}

export interface RecordedEvent {
  app: string;
  type: EventType;
  release: string | null;
  detail: Record<string, unknown>;
}

/**
 * Test double of the ledger (not a ledger): releases by app and id, the current release per app
 * (moved by 'activated' like the real fold over events), and every recorded event.
 */
export class InMemoryLedgerDouble {
  readonly releases = new Map<string, RunSpec>();
  readonly current = new Map<string, string>();
  readonly events: RecordedEvent[] = [];
  readonly logLines: string[] = [];

  add(spec: RunSpec): RunSpec {
    this.releases.set(`${spec.app}/${spec.release}`, spec);
    return spec;
  }

  deps(home: HomePaths): SupervisorDeps {
    return {
      home,
      clock: systemClock,
      desired: async () => [...this.current].map(([app, id]) => this.releases.get(`${app}/${id}`) as RunSpec),
      prepare: async (app, release) => {
        const spec = this.releases.get(`${app}/${release}`);
        if (!spec)
          throw Object.assign(new Error(`release ${release} of ${app} not found`), { code: 'release_not_found' });
        return spec;
      },
      record: async (app, type, release, detail) => {
        this.events.push({ app, type, release, detail });
        if (type === 'activated' && release) this.current.set(app, release);
      },
      log: (line) => this.logLines.push(line),
    };
  }

  eventsOf(app: string): string[] {
    return this.events.filter((e) => e.app === app).map((e) => `${e.type} ${e.release}`);
  }
}

/** Runs a supervisor inside the test process and returns a client connected through its socket. */
export async function startInProcess(
  deps: SupervisorDeps,
  opts: SupervisorOptions = {},
): Promise<{ client: SupervisorClient; done: Promise<void> }> {
  const done = runSupervisor(deps, { handleSignals: false, ...opts });
  done.catch(() => {});
  const client = await waitFor(async () => {
    const c = await connectSupervisor(deps.home).catch(() => null);
    if (c) await c.request('ping');
    return c;
  }, 10_000);
  return { client, done };
}

/** Live processes carrying this home's marker: every child of its supervisors, orphaned or not (not the fd holder). */
export function liveMarkedPids(home: HomePaths): number[] {
  const entry = `${HOME_MARKER_VAR}=${home.root}`;
  return listProcesses()
    .filter((p) => isLive(p) && hasEnvEntry(p.pid, entry) && !hasEnvEntry(p.pid, 'BRR_ROLE=fd-holder'))
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GET on 127.0.0.1; the sample answers / with { release, pid, greeting }. */
export function httpGet(
  port: number,
  urlPath = '/',
  agent: http.Agent | false = false,
): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Whether a TCP and a UDP port can be bound again (nothing holds them). */
export async function portsBindable(tcpPort: number, udpPort: number): Promise<boolean> {
  try {
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(tcpPort, '127.0.0.1', resolve);
    });
    await new Promise((r) => srv.close(r));
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(udpPort, '127.0.0.1', resolve);
    });
    await new Promise<void>((r) => s.close(() => r()));
    return true;
  } catch {
    return false;
  }
}

import { invalidInput } from '../core/errors.js';
import type { HealthCheck, HealthSpec, Manifest, PortSpec, ProcessSpec, RestartPolicy } from '../core/types.js';
import { parseDuration } from './duration.js';

/**
 * The brr.yaml schema: one place that validates and documents. `MANIFEST_DOC` is rendered into
 * the README reference; `validateManifest` enforces the same words. Errors name the path.
 */
export const MANIFEST_DOC: Array<[path: string, doc: string]> = [
  ['app', 'default app name for commands run from this repo (lowercase letters, digits, dashes)'],
  ['build.command', 'a string or a list of strings, run in order with `sh -c` in the clean checkout; optional'],
  ['build.output', 'directory (relative to the built directory) packaged into the image; default `.`'],
  ['processes', 'map of process type → definition; if absent, a Heroku-style `Procfile` is read'],
  ['processes.T.command', 'command line run with `sh -c` in the release directory'],
  ['processes.T.scale', 'number of processes of this type; default 1'],
  ['processes.T.ports', 'list of `{ name, port, protocol: tcp|udp, address }` the supervisor binds and hands over (address default 127.0.0.1)'],
  ['processes.T.health', '`{ http: /path, port: NAME }`, `{ tcp: NAME }` or `{ exec: "cmd" }`, plus optional `timeout` (default 30s), `interval` (default 200ms), `upFor` (default 1s, used when there is no check)'],
  ['processes.T.grace', 'time between SIGTERM and SIGKILL when stopping; default 10s'],
  ['processes.T.restart', '`always` (default), `on-failure` or `never`'],
];

const APP_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TYPE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;
const PORT_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

export function isValidAppName(name: string): boolean {
  return APP_RE.test(name);
}

type Obj = Record<string, unknown>;

class Ctx {
  constructor(readonly file: string) {}
  fail(path: string, msg: string): never {
    throw invalidInput('manifest_invalid', `${this.file}: ${path}: ${msg}`, 'fix brr.yaml and commit it; see the brr.yaml reference in the README');
  }
  obj(v: unknown, path: string, allowed: string[]): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'expected a mapping');
    for (const k of Object.keys(v as Obj)) {
      if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(path, 'expected a non-empty string');
    return v as string;
  }
  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `expected a whole number from ${min} to ${max}`);
    return v as number;
  }
  duration(v: unknown, path: string): number {
    const ms = parseDuration(v);
    if (ms === null) this.fail(path, 'expected a duration such as 500ms, 30s or 2m');
    return ms as number;
  }
}

export function validateManifest(raw: unknown, file = 'brr.yaml', procfile?: Record<string, string>): Manifest {
  const c = new Ctx(file);
  const top = c.obj(raw ?? {}, '', ['app', 'build', 'processes']);
  let app: string | null = null;
  if (top.app !== undefined) {
    app = c.str(top.app, 'app');
    if (!APP_RE.test(app)) c.fail('app', 'expected lowercase letters, digits and dashes (at most 63)');
  }
  const build = { command: [] as string[], output: '.' };
  if (top.build !== undefined) {
    const b = c.obj(top.build, 'build', ['command', 'output']);
    if (b.command !== undefined) {
      if (typeof b.command === 'string') build.command = [c.str(b.command, 'build.command')];
      else if (Array.isArray(b.command)) build.command = b.command.map((x, i) => c.str(x, `build.command[${i}]`));
      else c.fail('build.command', 'expected a string or a list of strings');
    }
    if (b.output !== undefined) {
      const out = c.str(b.output, 'build.output');
      if (out.startsWith('/') || out.split('/').includes('..')) c.fail('build.output', 'expected a relative path inside the built directory');
      build.output = out;
    }
  }
  let processes: Record<string, ProcessSpec>;
  let processesFrom: Manifest['processesFrom'] = 'brr.yaml';
  if (top.processes !== undefined) {
    const p = c.obj(top.processes, 'processes', Object.keys((top.processes ?? {}) as Obj));
    processes = {};
    for (const [type, def] of Object.entries(p)) {
      if (!TYPE_RE.test(type)) c.fail(`processes.${type}`, 'process type names are letters, digits, _ and - (at most 63)');
      processes[type] = validateProcess(c, def, `processes.${type}`);
    }
    if (Object.keys(processes).length === 0) c.fail('processes', 'expected at least one process type');
  } else if (procfile) {
    processesFrom = 'Procfile';
    processes = {};
    for (const [type, command] of Object.entries(procfile)) processes[type] = validateProcess(c, { command }, `Procfile ${type}`);
  } else {
    processes = {};
  }
  return { app, build, processes, processesFrom };
}

function validateProcess(c: Ctx, def: unknown, path: string): ProcessSpec {
  const d = c.obj(def, path, ['command', 'scale', 'ports', 'health', 'grace', 'restart']);
  const command = c.str(d.command, `${path}.command`);
  const scale = d.scale === undefined ? 1 : c.int(d.scale, `${path}.scale`, 0, 1000);
  const ports: PortSpec[] = [];
  if (d.ports !== undefined) {
    if (!Array.isArray(d.ports)) c.fail(`${path}.ports`, 'expected a list');
    (d.ports as unknown[]).forEach((raw, i) => {
      const pp = `${path}.ports[${i}]`;
      const o = c.obj(raw, pp, ['name', 'port', 'protocol', 'address']);
      const name = c.str(o.name, `${pp}.name`);
      if (!PORT_NAME_RE.test(name)) c.fail(`${pp}.name`, 'expected lowercase letters, digits and dashes (at most 15)');
      if (name === 'health') c.fail(`${pp}.name`, '"health" is reserved for the private health socket');
      if (ports.some((q) => q.name === name)) c.fail(`${pp}.name`, `duplicate port name "${name}"`);
      const port = c.int(o.port, `${pp}.port`, 1, 65535);
      const protocol = o.protocol === undefined ? 'tcp' : o.protocol;
      if (protocol !== 'tcp' && protocol !== 'udp') c.fail(`${pp}.protocol`, 'expected tcp or udp');
      const address = o.address === undefined ? '127.0.0.1' : c.str(o.address, `${pp}.address`);
      ports.push({ name, port, protocol, address });
    });
  }
  const health = validateHealth(c, d.health, `${path}.health`, ports);
  const graceMs = d.grace === undefined ? 10_000 : c.duration(d.grace, `${path}.grace`);
  const restart = (d.restart === undefined ? 'always' : d.restart) as RestartPolicy;
  if (!['always', 'on-failure', 'never'].includes(restart)) c.fail(`${path}.restart`, 'expected always, on-failure or never');
  return { command, scale, ports, health, graceMs, restart };
}

function validateHealth(c: Ctx, raw: unknown, path: string, ports: PortSpec[]): HealthSpec {
  const spec: HealthSpec = { check: null, timeoutMs: 30_000, intervalMs: 200, upForMs: 1_000 };
  if (raw === undefined) return spec;
  const h = c.obj(raw, path, ['http', 'tcp', 'exec', 'port', 'timeout', 'interval', 'upFor']);
  const kinds = ['http', 'tcp', 'exec'].filter((k) => h[k] !== undefined);
  if (kinds.length > 1) c.fail(path, `give one of http, tcp or exec, not ${kinds.join(' and ')}`);
  const tcpPort = (name: string, p: string): string => {
    const port = ports.find((q) => q.name === name);
    if (!port) c.fail(p, `no port named "${name}" in this process's ports`);
    if (port.protocol !== 'tcp') c.fail(p, `port "${name}" is ${port.protocol}; health checks need a tcp port`);
    return name;
  };
  let check: HealthCheck | null = null;
  if (h.http !== undefined) {
    const p = c.str(h.http, `${path}.http`);
    if (!p.startsWith('/')) c.fail(`${path}.http`, 'expected a path starting with /');
    check = { kind: 'http', path: p, port: tcpPort(c.str(h.port, `${path}.port`), `${path}.port`) };
  } else if (h.tcp !== undefined) {
    check = { kind: 'tcp', port: tcpPort(c.str(h.tcp, `${path}.tcp`), `${path}.tcp`) };
    if (h.port !== undefined) c.fail(`${path}.port`, 'only used with http');
  } else if (h.exec !== undefined) {
    check = { kind: 'exec', command: c.str(h.exec, `${path}.exec`) };
    if (h.port !== undefined) c.fail(`${path}.port`, 'only used with http');
  } else if (h.port !== undefined) {
    c.fail(`${path}.port`, 'only used with http');
  }
  spec.check = check;
  if (h.timeout !== undefined) spec.timeoutMs = c.duration(h.timeout, `${path}.timeout`);
  if (h.interval !== undefined) spec.intervalMs = c.duration(h.interval, `${path}.interval`);
  if (h.upFor !== undefined) spec.upForMs = c.duration(h.upFor, `${path}.upFor`);
  return spec;
}

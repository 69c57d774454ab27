import { invalidInput } from '../core/errors.js';
import type {
  BuildSpec,
  HealthCheck,
  HealthSpec,
  ImageSpec,
  Manifest,
  PortSpec,
  ProcessSpec,
  ReleasePhaseSpec,
  ResourceSpec,
  RestartPolicy,
} from '../core/types.js';
import { durationTooLong, parseDuration } from './duration.js';

/**
 * The brr.yaml schema: one place that validates and documents. `MANIFEST_DOC` is rendered into
 * the README reference; `validateManifest` enforces the same words. Errors name the path.
 */
export const MANIFEST_DOC: Array<[path: string, doc: string]> = [
  ['app', 'default app name for commands run from this repo (lowercase letters, digits, dashes)'],
  ['build.command', 'a string or a list of strings, run in order with `sh -c` in the clean checkout; optional'],
  ['build.output', 'directory (relative to the built directory) packaged into the image; default `.`'],
  [
    'build.layers',
    'directories of build.output put in layers of their own, below the app layer, so a code-only change reuses their blobs; default `[node_modules]` (used when present), `[]` for one layer',
  ],
  [
    'build.image.base',
    'base image `registry/repo:tag` or `registry/repo@sha256:…`; the app layers are appended to it without a container engine and it is pinned by digest in the build; optional (no base: the image holds only /app)',
  ],
  ['build.image.platform', '`os/arch[/variant]` picked from a multi-platform base; default linux/<host arch>'],
  [
    'build.image.entrypoint',
    "list of strings, the image ENTRYPOINT; default the base's (setting it clears the base's CMD, as in a Dockerfile)",
  ],
  ['build.image.cmd', "list of strings, the image CMD; default the base's"],
  ['build.image.user', "`uid[:gid]` or a user name the processes run as; default the base's"],
  ['build.image.ports', "list of `PORT/tcp|udp|sctp` the image declares (ExposedPorts), added to the base's"],
  [
    'build.image.env',
    "map of environment variables baked into the image (not deploy config: use `brr config` for that), added to the base's",
  ],
  [
    'build.image.init',
    "path of a static tini or dumb-init on the build host (absolute, or relative to the built directory; Debian's `tini` package has /usr/bin/tini-static), added as a layer of its own at /usr/local/bin/<name> and run as PID 1 on Kubernetes; default the tini/dumb-init the base has, if any",
  ],
  [
    'build.dockerfile',
    'path of a Dockerfile (relative to the built directory): build with podman, buildah or docker on the clean checkout, with SOURCE_DATE_EPOCH, instead of build.command/output/image',
  ],
  ['processes', 'map of process type → definition; if absent, a Heroku-style `Procfile` is read'],
  ['processes.T.command', 'command line run with `sh -c` in the release directory'],
  ['processes.T.scale', 'number of processes of this type; default 1'],
  [
    'processes.T.ports',
    'list of `{ name, port, protocol: tcp|udp|sctp, address, handoff }` public ports the supervisor binds (address default 127.0.0.1; sctp only on the Kubernetes target); a port belongs to one process type: the same protocol and number on overlapping addresses twice is refused',
  ],
  [
    'processes.T.ports[].handoff',
    '`proxy` (default): each process listens on its own private port on 127.0.0.1, given as `PORT_<NAME>` (and `PORT` for the first tcp port), and the supervisor forwards TCP connections and UDP flows from the public port to healthy processes; `fds`: the process takes the public socket itself (`LISTEN_FDS`, see [How a process gets its ports](#how-a-process-gets-its-ports))',
  ],
  [
    'processes.T.health',
    '`{ http: /path, port: NAME }`, `{ tcp: NAME }` or `{ exec: "cmd" }`, plus optional `timeout` (default 30s), `interval` (default 200ms), `upFor` (default 1s, used when there is no check); with no check, a process with a proxied tcp port is healthy once it accepts on its private port. A new process must pass within `timeout`: brr tries the check, waits `interval` after each failed try, and tries again; one try (an HTTP answer, a TCP connect, an `exec` command) may take all the time left before `timeout`, so `{ exec: "sleep 2", timeout: 20s }` passes. An `exec` still running at `timeout` is killed with its process group',
  ],
  [
    'processes.T.grace',
    'time between SIGTERM and SIGKILL when stopping; default 10s; at most 596h, like every duration',
  ],
  ['processes.T.restart', '`always` (default), `on-failure` or `never`'],
  [
    'processes.T.switch',
    '`overlap` (default): new processes start beside the old ones and take over once healthy; `stop-first`: the old processes are stopped before the new ones start (an app bound to a fixed port), and started again if the new ones fail their health check',
  ],
  [
    'processes.T.stateful',
    '`true` runs the process type as a StatefulSet on Kubernetes (stable names, ordered updates); default false',
  ],
  [
    'processes.T.resources',
    '`{ cpu, memory }` as Kubernetes quantities (`500m`, `2`, `256Mi`, `1Gi`), each both request and limit of every container of the type (Guaranteed QoS); without them a namespace LimitRange gives defaults (cpu 500m limit / 100m request, memory 512Mi limit / 128Mi request) and `brr check` warns; the local supervisor ignores them',
  ],
  [
    'release.command',
    "command line run with `sh -c` once per release, in the release directory with the release's config, before its processes start (e.g. migrations); its failure fails the deploy; optional (a Procfile `release:` line works too)",
  ],
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
    throw invalidInput(
      'manifest_invalid',
      `${this.file}: ${path}: ${msg}`,
      'fix brr.yaml and commit it; see the brr.yaml reference in the README',
    );
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
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `expected a whole number from ${min} to ${max}`);
    return v as number;
  }
  duration(v: unknown, path: string): number {
    const ms = parseDuration(v);
    if (ms === null) this.fail(path, 'expected a duration such as 500ms, 30s or 2m');
    const tooLong = durationTooLong(ms as number);
    if (tooLong) this.fail(path, `${JSON.stringify(v)} ${tooLong}`);
    return ms as number;
  }
}

export function validateManifest(raw: unknown, file = 'brr.yaml', procfile?: Record<string, string>): Manifest {
  const c = new Ctx(file);
  const top = c.obj(raw ?? {}, '', ['app', 'build', 'processes', 'release']);
  let app: string | null = null;
  if (top.app !== undefined) {
    app = c.str(top.app, 'app');
    if (!APP_RE.test(app)) c.fail('app', 'expected lowercase letters, digits and dashes (at most 63)');
  }
  const build: BuildSpec = { command: [] as string[], output: '.' };
  if (top.build !== undefined) {
    const b = c.obj(top.build, 'build', ['command', 'output', 'layers', 'image', 'dockerfile']);
    if (b.command !== undefined) {
      if (typeof b.command === 'string') build.command = [c.str(b.command, 'build.command')];
      else if (Array.isArray(b.command)) build.command = b.command.map((x, i) => c.str(x, `build.command[${i}]`));
      else c.fail('build.command', 'expected a string or a list of strings');
    }
    if (b.output !== undefined) {
      const out = c.str(b.output, 'build.output');
      if (out.startsWith('/') || out.split('/').includes('..'))
        c.fail('build.output', 'expected a relative path inside the built directory');
      build.output = out;
    }
    validateBuildImage(c, b, build);
  }
  let release: ReleasePhaseSpec | null = null;
  if (top.release !== undefined) {
    const r = c.obj(top.release, 'release', ['command']);
    release = { command: c.str(r.command, 'release.command') };
  }
  let processes: Record<string, ProcessSpec>;
  let processesFrom: Manifest['processesFrom'] = 'brr.yaml';
  if (top.processes !== undefined) {
    const p = c.obj(top.processes, 'processes', Object.keys((top.processes ?? {}) as Obj));
    processes = {};
    for (const [type, def] of Object.entries(p)) {
      if (!TYPE_RE.test(type))
        c.fail(`processes.${type}`, 'process type names are letters, digits, _ and - (at most 63)');
      processes[type] = validateProcess(c, def, `processes.${type}`);
    }
    if (Object.keys(processes).length === 0) c.fail('processes', 'expected at least one process type');
    checkPortsDistinct(c, processes);
  } else if (procfile) {
    processesFrom = 'Procfile';
    processes = {};
    for (const [type, command] of Object.entries(procfile)) {
      // Heroku semantics: a Procfile's `release` line is the release phase, not a process to keep up.
      if (type === 'release') {
        if (release) c.fail('release.command', "given both here and as the Procfile's release line; keep one");
        release = { command };
        continue;
      }
      processes[type] = validateProcess(c, { command }, `Procfile ${type}`);
    }
  } else {
    processes = {};
  }
  return { app, build, processes, processesFrom, release };
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * Every public port is bound once by the supervisor and handed to ONE process type: two entries
 * with the same protocol and port on overlapping addresses (equal, or either a wildcard) would
 * silently share a socket, each type getting a random part of the traffic. Refused, naming both.
 */
function checkPortsDistinct(c: Ctx, processes: Record<string, ProcessSpec>): void {
  const seen: Array<{ at: string; p: PortSpec }> = [];
  for (const [type, spec] of Object.entries(processes)) {
    spec.ports.forEach((p, i) => {
      const at = `processes.${type}.ports[${i}]`;
      const clash = seen.find(
        (s) =>
          s.p.port === p.port &&
          s.p.protocol === p.protocol &&
          (s.p.address === p.address || WILDCARD.has(s.p.address) || WILDCARD.has(p.address)),
      );
      if (clash)
        c.fail(
          `${at}.port`,
          `${p.port}/${p.protocol} is also declared by ${clash.at} ("${clash.p.name}"); each public port belongs to one process type (give one of them another port)`,
        );
      seen.push({ at, p });
    });
  }
}

function validateProcess(c: Ctx, def: unknown, path: string): ProcessSpec {
  const d = c.obj(def, path, [
    'command',
    'scale',
    'ports',
    'health',
    'grace',
    'restart',
    'stateful',
    'switch',
    'resources',
  ]);
  const command = c.str(d.command, `${path}.command`);
  const scale = d.scale === undefined ? 1 : c.int(d.scale, `${path}.scale`, 0, 1000);
  const ports: PortSpec[] = [];
  if (d.ports !== undefined) {
    if (!Array.isArray(d.ports)) c.fail(`${path}.ports`, 'expected a list');
    (d.ports as unknown[]).forEach((raw, i) => {
      const pp = `${path}.ports[${i}]`;
      const o = c.obj(raw, pp, ['name', 'port', 'protocol', 'address', 'handoff']);
      const name = c.str(o.name, `${pp}.name`);
      if (!PORT_NAME_RE.test(name)) c.fail(`${pp}.name`, 'expected lowercase letters, digits and dashes (at most 15)');
      if (name === 'health') c.fail(`${pp}.name`, '"health" is reserved for the private health socket');
      if (ports.some((q) => q.name === name)) c.fail(`${pp}.name`, `duplicate port name "${name}"`);
      const port = c.int(o.port, `${pp}.port`, 1, 65535);
      const protocol = o.protocol === undefined ? 'tcp' : o.protocol;
      if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp')
        c.fail(`${pp}.protocol`, 'expected tcp, udp or sctp');
      const address = o.address === undefined ? '127.0.0.1' : c.str(o.address, `${pp}.address`);
      const handoff = o.handoff === undefined ? 'proxy' : o.handoff;
      if (handoff !== 'proxy' && handoff !== 'fds') c.fail(`${pp}.handoff`, 'expected proxy or fds');
      // Only the non-default is recorded: the process map is an image label, and digests must not move.
      ports.push(handoff === 'fds' ? { name, port, protocol, address, handoff } : { name, port, protocol, address });
    });
  }
  const health = validateHealth(c, d.health, `${path}.health`, ports);
  const graceMs = d.grace === undefined ? 10_000 : c.duration(d.grace, `${path}.grace`);
  const restart = (d.restart === undefined ? 'always' : d.restart) as RestartPolicy;
  if (!['always', 'on-failure', 'never'].includes(restart))
    c.fail(`${path}.restart`, 'expected always, on-failure or never');
  if (d.stateful !== undefined && typeof d.stateful !== 'boolean') c.fail(`${path}.stateful`, 'expected true or false');
  const sw = d.switch === undefined ? 'overlap' : d.switch;
  if (sw !== 'overlap' && sw !== 'stop-first') c.fail(`${path}.switch`, 'expected overlap or stop-first');
  // Only non-defaults are recorded: the process map is an image label, and defaults must not change digests.
  const spec: ProcessSpec = { command, scale, ports, health, graceMs, restart };
  if (d.stateful === true) spec.stateful = true;
  if (sw === 'stop-first') spec.switch = 'stop-first';
  if (d.resources !== undefined) spec.resources = validateResources(c, d.resources, `${path}.resources`);
  return spec;
}

/**
 * A Kubernetes quantity: a decimal number with an SI suffix (`m`, `k`, `M`, `G`…), a binary one
 * (`Ki`, `Mi`, `Gi`…) or an exponent (`1e3`). The API server would refuse anything else halfway
 * through an apply; here the error names the key.
 */
const QUANTITY_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** True for a Kubernetes quantity greater than zero (see QUANTITY_RE). */
export function isPositiveQuantity(q: string): boolean {
  return QUANTITY_RE.test(q) && /[1-9]/.test(q.replace(/[eE][+-]?\d+$/, ''));
}

function validateResources(c: Ctx, raw: unknown, path: string): ResourceSpec {
  const r = c.obj(raw, path, ['cpu', 'memory']);
  const out: ResourceSpec = {};
  for (const key of ['cpu', 'memory'] as const) {
    const v = r[key];
    if (v === undefined) continue;
    const q = typeof v === 'number' ? String(v) : c.str(v, `${path}.${key}`).trim();
    if (!isPositiveQuantity(q))
      c.fail(
        `${path}.${key}`,
        `"${String(v)}" is not a Kubernetes quantity above zero (e.g. ${key === 'cpu' ? '500m or 2' : '256Mi or 1Gi'})`,
      );
    if (key === 'memory' && /[num]$/.test(q))
      c.fail(`${path}.memory`, `"${q}" is a fraction of a byte; use Mi or Gi (e.g. 256Mi)`);
    out[key] = q;
  }
  if (out.cpu === undefined && out.memory === undefined) c.fail(path, 'expected cpu, memory or both');
  return out;
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

const IMAGE_PORT_RE = /^\d{1,5}\/(tcp|udp|sctp)$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function strList(c: Ctx, v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0) c.fail(path, 'expected a non-empty list of strings');
  return (v as unknown[]).map((x, i) => c.str(x, `${path}[${i}]`));
}

function relDir(c: Ctx, v: unknown, path: string): string {
  const d = c.str(v, path).replace(/\/+$/, '');
  if (d.startsWith('/') || d.split('/').some((p) => p === '..' || p === '.' || p === ''))
    c.fail(path, 'expected a relative path without . or .. components');
  return d;
}

/** build.layers, build.image and build.dockerfile (errors name the path). */
function validateBuildImage(c: Ctx, b: Obj, build: BuildSpec): void {
  if (b.layers !== undefined) {
    if (!Array.isArray(b.layers)) c.fail('build.layers', 'expected a list of directories');
    build.layers = (b.layers as unknown[]).map((x, i) => relDir(c, x, `build.layers[${i}]`));
    if (new Set(build.layers).size !== build.layers.length) c.fail('build.layers', 'lists a directory twice');
  }
  if (b.image !== undefined) {
    const o = c.obj(b.image, 'build.image', ['base', 'platform', 'entrypoint', 'cmd', 'user', 'ports', 'env', 'init']);
    const img: ImageSpec = { base: null, platform: null, entrypoint: null, cmd: null, user: null, ports: [], env: {} };
    if (o.base !== undefined) img.base = c.str(o.base, 'build.image.base').trim();
    if (o.platform !== undefined) {
      img.platform = c.str(o.platform, 'build.image.platform');
      if (!/^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_]+)?$/.test(img.platform))
        c.fail('build.image.platform', 'expected os/arch[/variant], e.g. linux/arm64');
    }
    if (o.entrypoint !== undefined) img.entrypoint = strList(c, o.entrypoint, 'build.image.entrypoint');
    if (o.cmd !== undefined) img.cmd = strList(c, o.cmd, 'build.image.cmd');
    if (o.user !== undefined) img.user = c.str(o.user, 'build.image.user');
    if (o.ports !== undefined) {
      img.ports = strList(c, o.ports, 'build.image.ports');
      img.ports.forEach((p, i) => {
        if (!IMAGE_PORT_RE.test(p) || Number(p.split('/')[0]) < 1 || Number(p.split('/')[0]) > 65535)
          c.fail(`build.image.ports[${i}]`, 'expected PORT/tcp, PORT/udp or PORT/sctp');
      });
    }
    if (o.env !== undefined) {
      const env = c.obj(o.env, 'build.image.env', Object.keys((o.env ?? {}) as Obj));
      for (const [k, v] of Object.entries(env)) {
        if (!ENV_KEY_RE.test(k)) c.fail(`build.image.env.${k}`, 'expected a variable name (letters, digits, _)');
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
          c.fail(`build.image.env.${k}`, 'expected a string');
        img.env[k] = String(v);
      }
    }
    if (o.init !== undefined) {
      img.init = c.str(o.init, 'build.image.init').trim();
      if (!/tini|dumb-init/.test(img.init.split('/').pop() ?? ''))
        c.fail('build.image.init', 'expected the path of a tini or dumb-init binary (its file name says which)');
    }
    build.image = img;
  }
  if (b.dockerfile !== undefined) {
    build.dockerfile = relDir(c, b.dockerfile, 'build.dockerfile');
    for (const k of ['command', 'output', 'layers', 'image']) {
      if (b[k] !== undefined)
        c.fail(`build.${k}`, 'not used with build.dockerfile (the Dockerfile is the recipe); remove one of them');
    }
  }
}

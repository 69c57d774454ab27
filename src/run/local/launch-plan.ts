/**
 * How one process is launched, as data (Kamal's "commands as data"): the argv, the environment
 * and the log file. Nothing here spawns, so tests compare exact values.
 */
import path from 'node:path';
import type { HealthSpec, PortSpec } from '../../core/types.js';

/** Marks every child (and its descendants) as belonging to the supervisor of one brr home. */
export const HOME_MARKER_VAR = 'BRR_SUPERVISOR_HOME';

// Words that make the command a compound command, where `exec` would be wrong or a syntax error.
const RESERVED = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'case',
  'esac',
  'while',
  'until',
  'for',
  'in',
  'function',
  'select',
  '{',
  '}',
  '!',
  '[[',
  ']]',
  'time',
]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * Splits a command into its shell words when it is one simple command (no `;`, `&`, `|`,
 * redirections, subshells or command substitution outside quotes), else returns null. Only
 * word boundaries are needed, so quotes are kept in the words.
 */
export function simpleCommandWords(command: string): string[] | null {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] as string;
    if (quote === "'") {
      cur += ch;
      if (ch === "'") quote = null;
    } else if (ch === '\\') {
      cur += ch + (command[i + 1] ?? '');
      i++;
    } else if (quote === '"') {
      if (ch === '`' || (ch === '$' && command[i + 1] === '(')) return null;
      cur += ch;
      if (ch === '"') quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (';&|<>()`\n'.includes(ch) || (ch === '$' && command[i + 1] === '(')) {
      return null;
    } else if (ch === ' ' || ch === '\t') {
      if (cur) words.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (quote) return null;
  if (cur) words.push(cur);
  return words.length > 0 ? words : null;
}

/**
 * The script given to `/bin/sh -c`. For a simple command, `exec` replaces the shell so the
 * child's pid is the app's own: signals reach it directly and `LISTEN_PID` (set from `$$`,
 * which the app inherits through exec) matches, as systemd's convention requires. For anything
 * else the command runs as written and `LISTEN_PID` is left out, since the app's pid is unknown.
 */
export function shellScript(command: string): { script: string; listenPid: boolean } {
  const words = simpleCommandWords(command);
  if (!words) return { script: command, listenPid: false };
  let n = 0;
  while (n < words.length && ASSIGNMENT.test(words[n] as string)) n++;
  const first = words[n];
  if (first === undefined || RESERVED.has(first)) return { script: command, listenPid: false };
  // Assignments before `exec` are exported to the program by POSIX shells (dash, bash --posix).
  const rest = first === 'exec' ? words.slice(n + 1) : words.slice(n);
  if (rest.length === 0) return { script: command, listenPid: false };
  const prefix = words.slice(0, n);
  return { script: ['export LISTEN_PID=$$;', ...prefix, 'exec', ...rest].join(' '), listenPid: true };
}

export interface ChildEnvInput {
  /** The supervisor's own environment: only PATH, HOME, LANG and TZ are passed on. */
  base: Record<string, string | undefined>;
  /** The release's config (secrets included; never logged). */
  config: Record<string, string>;
  app: string;
  release: string;
  type: string;
  /** 1-based. */
  index: number;
  ports: PortSpec[];
  /** Port name → this process's private port on 127.0.0.1, for the ports with `handoff: proxy`. */
  privatePorts: Record<string, number>;
  /** LISTEN_FDS and LISTEN_FDNAMES for the sockets handed over. */
  listenFds: Record<string, string>;
  homeRoot: string;
}

/**
 * The child's environment: a minimal base (nothing else of the supervisor leaks into apps),
 * then the release config, then what brr itself sets, which config cannot override.
 */
export function childEnv(input: ChildEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TZ']) {
    const v = input.base[key];
    if (v !== undefined) env[key] = v;
  }
  Object.assign(env, input.config);
  const firstTcp = input.ports.find((p) => p.protocol === 'tcp');
  if (firstTcp && input.config.PORT === undefined) env.PORT = String(firstTcp.port);
  // A proxied port's process must listen on its private port, whatever config says (Heroku's
  // `PORT`: the config holds the public port, the process is told where to listen).
  for (const p of input.ports) {
    const own = input.privatePorts[p.name];
    if (own === undefined) continue;
    env[portVar(p.name)] = String(own);
    if (p === firstTcp) env.PORT = String(own);
  }
  Object.assign(env, {
    BRR_APP: input.app,
    BRR_RELEASE: input.release,
    BRR_PROCESS_TYPE: input.type,
    BRR_PROCESS_INDEX: String(input.index),
    [HOME_MARKER_VAR]: input.homeRoot,
  });
  // The shell sets LISTEN_PID itself (see shellScript); a stale one from config must not leak.
  delete env.LISTEN_PID;
  Object.assign(env, input.listenFds);
  delete env.LISTEN_PID;
  return env;
}

/** Where one process's health is checked, decided from its definition alone. */
export interface HealthPlan {
  /** The health spec to wait on (a process with a proxied TCP port and no check gets a tcp check). */
  spec: HealthSpec;
  /** `private`: the proxied port's private port; `health-socket`: the fds private health socket; else none. */
  target: { kind: 'private'; port: number } | { kind: 'health-socket' } | { kind: 'none' };
  /** Said instead of `connection refused` (fds: the process does not serve its health socket). */
  refusedReason?: string;
}

/**
 * A proxied port is checked on the process's private port; an fds port on its private `health`
 * socket (fd 3 + the number of handed-over sockets, the last one). With no check, a process
 * with a proxied TCP port is healthy once it accepts there (Heroku's boot check); others after
 * `upFor`.
 */
export function planHealth(
  health: HealthSpec,
  ports: PortSpec[],
  privatePorts: Record<string, number>,
  fdCount: number,
): HealthPlan {
  const check = health.check;
  if (check && check.kind !== 'exec') {
    const own = privatePorts[check.port];
    if (own !== undefined) return { spec: health, target: { kind: 'private', port: own } };
    return {
      spec: health,
      target: { kind: 'health-socket' },
      refusedReason: `the process does not listen on its private health socket (fd ${3 + fdCount}, LISTEN_FDNAMES name "health"): with handoff: fds, ${check.kind} checks are made there; serve the same handler on it (README: "How a process gets its ports", section "handoff: fds"), or use handoff: proxy`,
    };
  }
  if (check === null) {
    const tcp = ports.find((p) => p.protocol === 'tcp' && privatePorts[p.name] !== undefined);
    const port = tcp ? privatePorts[tcp.name] : undefined;
    if (tcp && port !== undefined)
      return { spec: { ...health, check: { kind: 'tcp', port: tcp.name } }, target: { kind: 'private', port } };
  }
  return { spec: health, target: { kind: 'none' } };
}

/** `PORT_<NAME>`: the port name upper-cased, `-` → `_` (`dns-udp` → `PORT_DNS_UDP`). */
export function portVar(name: string): string {
  return `PORT_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** `<logs>/<app>/<type>.<index>.log` */
export function processLogPath(logsDir: string, app: string, type: string, index: number): string {
  return path.join(logsDir, app, `${type}.${index}.log`);
}

/** The line written to the log before each start, so restarts and releases are visible there. */
export function startMarker(p: {
  release: string;
  type: string;
  index: number;
  pid: number;
  restarts: number;
  at: Date;
}): string {
  const again = p.restarts > 0 ? ` (restart ${p.restarts})` : '';
  return `${p.type}.${p.index} ${p.release} started, pid ${p.pid}${again}, at ${p.at.toISOString()}`;
}

import { describe, expect, it } from 'vitest';
import {
  childEnv,
  planHealth,
  portVar,
  processLogPath,
  shellScript,
  simpleCommandWords,
} from '../../../src/run/local/launch-plan.js';

describe('shellScript', () => {
  it.each([
    ['node nf.mjs', 'export LISTEN_PID=$$; exec node nf.mjs', true],
    ['  node   nf.mjs  ', 'export LISTEN_PID=$$; exec node nf.mjs', true],
    ['exec node nf.mjs', 'export LISTEN_PID=$$; exec node nf.mjs', true],
    ['LOG=1 node nf.mjs', 'export LISTEN_PID=$$; LOG=1 exec node nf.mjs', true],
    ['node nf.mjs --name "a; b" \'x|y\'', 'export LISTEN_PID=$$; exec node nf.mjs --name "a; b" \'x|y\'', true],
    ['node nf.mjs --port $PORT', 'export LISTEN_PID=$$; exec node nf.mjs --port $PORT', true],
    ['node a.js && node b.js', 'node a.js && node b.js', false],
    ['node a.js; node b.js', 'node a.js; node b.js', false],
    ['node a.js | tee x', 'node a.js | tee x', false],
    ['node a.js > out', 'node a.js > out', false],
    ['node a.js &', 'node a.js &', false],
    ['(cd x && node a.js)', '(cd x && node a.js)', false],
    ['node $(which a)', 'node $(which a)', false],
    ['node "$(which a)"', 'node "$(which a)"', false],
    ['if true; then node a.js; fi', 'if true; then node a.js; fi', false],
    ['FOO=1', 'FOO=1', false],
    ['node "unterminated', 'node "unterminated', false],
  ])('%j', (command, script, listenPid) => {
    expect(shellScript(command)).toEqual({ script, listenPid });
  });

  it('keeps escaped operators inside words', () => {
    expect(simpleCommandWords('echo a\\;b')).toEqual(['echo', 'a\\;b']);
  });
});

describe('childEnv', () => {
  const base = {
    PATH: '/usr/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    SECRET_OF_SUPERVISOR: 'x',
    NODE_OPTIONS: '--inspect',
  };
  const ports = [
    { name: 'data', port: 2152, protocol: 'udp' as const, address: '127.0.0.1' },
    { name: 'http', port: 8080, protocol: 'tcp' as const, address: '127.0.0.1' },
  ];
  const input = {
    base,
    config: { GREETING: 'hi' },
    app: 'upf',
    release: 'v3',
    type: 'web',
    index: 2,
    ports,
    privatePorts: {},
    listenFds: { LISTEN_FDS: '2', LISTEN_FDNAMES: 'data:http' },
    homeRoot: '/h',
  };

  it('passes a minimal base, the config, brr variables, PORT and the fds', () => {
    expect(childEnv(input)).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      GREETING: 'hi',
      PORT: '8080',
      BRR_APP: 'upf',
      BRR_RELEASE: 'v3',
      BRR_PROCESS_TYPE: 'web',
      BRR_PROCESS_INDEX: '2',
      BRR_SUPERVISOR_HOME: '/h',
      LISTEN_FDS: '2',
      LISTEN_FDNAMES: 'data:http',
    });
  });

  it('lets config set PORT and PATH but not brr variables or LISTEN_PID', () => {
    const env = childEnv({
      ...input,
      config: { PORT: '9', PATH: '/opt/bin', BRR_APP: 'evil', LISTEN_FDS: '7', LISTEN_PID: '1' },
    });
    expect(env.PORT).toBe('9');
    expect(env.PATH).toBe('/opt/bin');
    expect(env.BRR_APP).toBe('upf');
    expect(env.LISTEN_FDS).toBe('2');
    expect(env.LISTEN_PID).toBeUndefined();
  });

  it('sets no PORT without a tcp port', () => {
    expect(childEnv({ ...input, ports: [ports[0]!] }).PORT).toBeUndefined();
  });

  it('gives proxied ports their private port as PORT_<NAME>, and PORT over what config says', () => {
    const env = childEnv({
      ...input,
      ports: [...ports, { name: 'dns-udp', port: 53, protocol: 'udp', address: '127.0.0.1' }],
      config: { PORT: '8080' },
      privatePorts: { data: 40001, http: 40002, 'dns-udp': 40003 },
      listenFds: {},
    });
    expect(env).toMatchObject({ PORT: '40002', PORT_HTTP: '40002', PORT_DATA: '40001', PORT_DNS_UDP: '40003' });
    expect(env.LISTEN_FDS).toBeUndefined();
  });
});

describe('portVar', () => {
  it('upper-cases the name and turns - into _', () => {
    expect(portVar('http')).toBe('PORT_HTTP');
    expect(portVar('gtp-u')).toBe('PORT_GTP_U');
  });
});

it('puts logs at <logs>/<app>/<type>.<index>.log', () => {
  expect(processLogPath('/h/logs', 'upf', 'web', 3)).toBe('/h/logs/upf/web.3.log');
});

describe('planHealth', () => {
  const base = { timeoutMs: 30_000, intervalMs: 200, upForMs: 1_000 };
  const http = { name: 'http', port: 8080, protocol: 'tcp' as const, address: '127.0.0.1' };
  const data = { name: 'data', port: 2152, protocol: 'udp' as const, address: '127.0.0.1' };
  const httpCheck = { kind: 'http' as const, path: '/healthz', port: 'http' };

  it.each([
    [
      'proxied port with an http check: its private port',
      { ...base, check: httpCheck },
      [http],
      { http: 41000 },
      0,
      { kind: 'private', port: 41000 },
      null,
    ],
    [
      'fds port with an http check: the health socket',
      { ...base, check: httpCheck },
      [{ ...http, handoff: 'fds' as const }],
      {},
      1,
      { kind: 'health-socket' },
      null,
    ],
    [
      'no check, proxied tcp port: a tcp check there',
      { ...base, check: null },
      [data, http],
      { data: 41001, http: 41002 },
      0,
      { kind: 'private', port: 41002 },
      { kind: 'tcp', port: 'http' },
    ],
    ['no check, udp only: upFor', { ...base, check: null }, [data], { data: 41001 }, 0, { kind: 'none' }, null],
    [
      'no check, fds only: upFor',
      { ...base, check: null },
      [{ ...http, handoff: 'fds' as const }],
      {},
      1,
      { kind: 'none' },
      null,
    ],
    [
      'exec check: none',
      { ...base, check: { kind: 'exec' as const, command: 'true' } },
      [http],
      { http: 41000 },
      0,
      { kind: 'none' },
      { kind: 'exec', command: 'true' },
    ],
  ])('%s', (_what, health, ports, privatePorts, fds, target, check) => {
    const plan = planHealth(health, ports, privatePorts, fds);
    expect(plan.target).toEqual(target);
    if (check) expect(plan.spec.check).toEqual(check);
  });

  it('names the fd and the README section when an fds process does not serve its health socket', () => {
    const plan = planHealth(
      { ...base, check: httpCheck },
      [
        { ...http, handoff: 'fds' },
        { ...data, handoff: 'fds' },
      ],
      {},
      2,
    );
    expect(plan.refusedReason).toContain('fd 5, LISTEN_FDNAMES name "health"');
    expect(plan.refusedReason).toContain('"How a process gets its ports", section "handoff: fds"');
  });
});

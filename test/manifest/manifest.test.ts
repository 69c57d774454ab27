import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseManifest, parseProcfile } from '../../src/manifest/load.js';
import { MANIFEST_DOC } from '../../src/manifest/schema.js';
import { MAX_TIMER_MS, parseDuration, parseDurationInput } from '../../src/manifest/duration.js';
import { brrErrorOf } from '../helpers/errors.js';

const errorOf = brrErrorOf;

describe('brr.yaml', () => {
  it('applies defaults', () => {
    const m = parseManifest('processes:\n  web:\n    command: node server.js\n');
    expect(m.app).toBeNull();
    expect(m.build).toEqual({ command: [], output: '.' });
    expect(m.processes.web).toMatchObject({
      command: 'node server.js',
      scale: 1,
      ports: [],
      graceMs: 10_000,
      restart: 'always',
    });
    expect(m.processes.web!.health).toEqual({ check: null, timeoutMs: 30_000, intervalMs: 200, upForMs: 1_000 });
  });

  it('reads the sample network function', () => {
    const m = parseManifest(readFileSync('examples/udp-counter/brr.yaml', 'utf8'));
    expect(m.app).toBe('udp-counter');
    expect(m.build).toEqual({ command: ['node build.mjs'], output: 'dist' });
    const nf = m.processes.nf!;
    expect(nf.ports).toEqual([
      { name: 'http', port: 18080, protocol: 'tcp', address: '127.0.0.1', handoff: 'fds' },
      { name: 'data', port: 12152, protocol: 'udp', address: '127.0.0.1', handoff: 'fds' },
    ]);
    expect(nf.health.check).toEqual({ kind: 'http', path: '/healthz', port: 'http' });
    expect(nf.health.timeoutMs).toBe(15_000);
    expect(nf.graceMs).toBe(5_000);
  });

  it('records handoff and switch only when they are not the default, so image digests stay put', () => {
    const m = parseManifest(
      'processes:\n  a:\n    command: x\n    switch: overlap\n    ports: [{ name: p, port: 1, handoff: proxy }]\n' +
        '  b:\n    command: x\n    switch: stop-first\n    ports: [{ name: p, port: 2, handoff: fds }]\n',
    );
    expect(m.processes.a).not.toHaveProperty('switch');
    expect(m.processes.a!.ports[0]).not.toHaveProperty('handoff');
    expect(m.processes.b!.switch).toBe('stop-first');
    expect(m.processes.b!.ports[0]!.handoff).toBe('fds');
  });

  it('accepts a list of build commands', () => {
    const m = parseManifest('build:\n  command: [a, b]\nprocesses: { w: { command: x } }\n');
    expect(m.build.command).toEqual(['a', 'b']);
  });

  it('accepts one port number on different protocols or distinct addresses', () => {
    const m = parseManifest(
      'processes:\n  a:\n    command: x\n    ports: [{ name: t, port: 53 }, { name: u, port: 53, protocol: udp }]\n  b:\n    command: y\n    ports: [{ name: t, port: 53, address: 127.0.0.2 }]\n',
    );
    expect(Object.keys(m.processes)).toEqual(['a', 'b']);
  });

  it.each([
    ['processes:\n  web:\n    command: 3\n', 'brr.yaml: processes.web.command: expected a non-empty string'],
    ['processes:\n  web:\n    command: x\n    scael: 2\n', 'brr.yaml: processes.web.scael: unknown key'],
    ['colour: red\n', 'brr.yaml: colour: unknown key'],
    ['app: Hello_World\n', 'brr.yaml: app: expected lowercase'],
    ['build:\n  output: ../x\n', 'brr.yaml: build.output: expected a relative path'],
    ['build:\n  command: {a: 1}\n', 'brr.yaml: build.command: expected a string or a list of strings'],
    [
      'processes:\n  web:\n    command: x\n    scale: -1\n',
      'brr.yaml: processes.web.scale: expected a whole number from 0 to 1000',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: http, port: 70000 }]\n',
      'processes.web.ports[0].port: expected a whole number from 1 to 65535',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: a, port: 1, protocol: quic }]\n',
      'processes.web.ports[0].protocol: expected tcp, udp or sctp',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: a, port: 1 }, { name: a, port: 2 }]\n',
      'processes.web.ports[1].name: duplicate port name "a"',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: http, port: 8080 }]\n  api:\n    command: y\n    ports: [{ name: rest, port: 8080 }]\n',
      'processes.api.ports[0].port: 8080/tcp is also declared by processes.web.ports[0] ("http")',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: a, port: 53, protocol: udp, address: 0.0.0.0 }, { name: b, port: 53, protocol: udp }]\n',
      'processes.web.ports[1].port: 53/udp is also declared by processes.web.ports[0] ("a")',
    ],
    [
      'processes:\n  web:\n    command: x\n    health: { http: /h, port: nope }\n',
      'processes.web.health.port: no port named "nope"',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: d, port: 5, protocol: udp }]\n    health: { tcp: d }\n',
      'processes.web.health.tcp: port "d" is udp',
    ],
    [
      'processes:\n  web:\n    command: x\n    health: { exec: a, tcp: b }\n',
      'processes.web.health: give one of http, tcp or exec',
    ],
    ['processes:\n  web:\n    command: x\n    grace: soon\n', 'processes.web.grace: expected a duration'],
    [
      'processes:\n  web:\n    command: x\n    restart: sometimes\n',
      'processes.web.restart: expected always, on-failure or never',
    ],
    [
      'processes:\n  web:\n    command: x\n    ports: [{ name: a, port: 1, handoff: pipe }]\n',
      'processes.web.ports[0].handoff: expected proxy or fds',
    ],
    [
      'processes:\n  web:\n    command: x\n    switch: recreate\n',
      'processes.web.switch: expected overlap or stop-first',
    ],
    ['processes: {}\n', 'brr.yaml: processes: expected at least one process type'],
    ['processes:\n  web:\n  command: x\n', 'brr.yaml: processes.web: expected a mapping'],
    ['release: ./migrate\n', 'brr.yaml: release: expected a mapping'],
    ['release: {}\n', 'brr.yaml: release.command: expected a non-empty string'],
    ['release: { command: "  " }\n', 'brr.yaml: release.command: expected a non-empty string'],
    ['release: { command: x, timeout: 5s }\n', 'brr.yaml: release.timeout: unknown key'],
  ])('rejects %j naming the path', (yaml, message) => {
    const e = errorOf(() => parseManifest(yaml));
    expect(e.code).toBe('manifest_invalid');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(message);
    expect(e.hint).toBeTruthy();
  });

  it('reads processes.T.resources as Kubernetes quantities; absent when not given (digests unchanged)', () => {
    const m = parseManifest(
      'processes:\n  a: { command: x, resources: { cpu: 500m, memory: 256Mi } }\n  b: { command: x, resources: { cpu: 2 } }\n  c: { command: x }\n',
    );
    expect(m.processes.a!.resources).toEqual({ cpu: '500m', memory: '256Mi' });
    expect(m.processes.b!.resources).toEqual({ cpu: '2' });
    expect('resources' in m.processes.c!).toBe(false);
  });

  it.each([
    ['{ cpu: lots }', 'processes.web.resources.cpu: "lots" is not a Kubernetes quantity'],
    ['{ cpu: 0 }', 'processes.web.resources.cpu: "0" is not a Kubernetes quantity above zero'],
    ['{ memory: 256MB }', 'processes.web.resources.memory: "256MB" is not a Kubernetes quantity'],
    ['{ memory: 100m }', 'processes.web.resources.memory: "100m" is a fraction of a byte'],
    ['{ gpu: 1 }', 'processes.web.resources.gpu: unknown key'],
    ['{}', 'processes.web.resources: expected cpu, memory or both'],
  ])('refuses resources %s, naming the key', (r, msg) => {
    const e = brrErrorOf(() => parseManifest(`processes:\n  web:\n    command: x\n    resources: ${r}\n`));
    expect(e.code).toBe('manifest_invalid');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(msg);
  });

  it('reports YAML syntax errors with the line', () => {
    const e = errorOf(() => parseManifest('app: x\nprocesses: [\n'));
    expect(e.code).toBe('manifest_invalid');
    expect(e.message).toMatch(/^brr\.yaml/);
  });

  it('rejects duplicate keys', () => {
    expect(() => parseManifest('app: a\napp: b\n')).toThrow(/brr\.yaml/);
  });

  it('falls back to a Procfile when brr.yaml has no processes', () => {
    const m = parseManifest(
      'app: hello\n',
      'brr.yaml',
      'web: node server.js --port $PORT\n# comment\nworker: node worker.js\n',
    );
    expect(m.processesFrom).toBe('Procfile');
    expect(Object.keys(m.processes)).toEqual(['web', 'worker']);
    expect(m.processes.web!.command).toBe('node server.js --port $PORT');
  });

  it('reads release.command; without it there is no release phase', () => {
    expect(parseManifest('release:\n  command: ./migrate up\nprocesses: { web: { command: x } }\n').release).toEqual({
      command: './migrate up',
    });
    expect(parseManifest('processes: { web: { command: x } }\n').release).toBeNull();
  });

  it("takes a Procfile's release line as the release phase, not as a process (Heroku semantics)", () => {
    const m = parseManifest(null, 'brr.yaml', 'web: node server.js\nrelease: node migrate.js\n');
    expect(Object.keys(m.processes)).toEqual(['web']);
    expect(m.release).toEqual({ command: 'node migrate.js' });
    // In brr.yaml's processes a type named release is an ordinary process: it was asked for.
    expect(Object.keys(parseManifest('processes: { release: { command: x } }\n').processes)).toEqual(['release']);
    const both = errorOf(() => parseManifest('release: { command: a }\n', 'brr.yaml', 'web: x\nrelease: b\n'));
    expect(both.message).toContain('release.command: given both');
  });

  it('rejects a malformed Procfile line with its number', () => {
    expect(() => parseProcfile('web: a\nthis is not a process\n')).toThrow('Procfile:2: expected "type: command"');
    expect(() => parseProcfile('web: a\nweb: b\n')).toThrow('Procfile:2: process type "web" appears twice');
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [5, 5_000],
    ['1.5s', 1_500],
    ['7', 7_000],
  ])('%j is %d ms', (v, ms) => expect(parseDuration(v)).toBe(ms));
  it.each([['soon'], [''], [-1], ['5 d'], [null]])('%j is invalid', (v) => expect(parseDuration(v)).toBeNull());
});

describe('durations a timer can hold', () => {
  it('accepts up to 2^31-1 ms and refuses more, naming the key, exit 2', () => {
    expect(parseDurationInput('--wait', '596h', { example: '30s' })).toBe(596 * 3_600_000);
    expect(parseDurationInput('--wait', `${MAX_TIMER_MS}ms`, { example: '30s' })).toBe(MAX_TIMER_MS);
    for (const [key, raw] of [
      ['--wait', `${MAX_TIMER_MS + 1}ms`],
      ['BRR_LEASE_TTL', '600h'],
      ['--timeout', '1e400'],
    ] as const) {
      const e = brrErrorOf(() => parseDurationInput(key, raw, { example: '30s' }));
      expect(e).toMatchObject({ code: 'duration_invalid', exitCode: 2, details: { key, value: raw } });
      expect(e.message.startsWith(`${key}: "${raw}" `)).toBe(true);
    }
    expect(brrErrorOf(() => parseDurationInput('BRR_LEASE_TTL', '10ms', { minMs: 300, example: '30s' })).message).toBe(
      'BRR_LEASE_TTL: "10ms" is too short: it must be at least 300ms',
    );
  });

  it.each(['grace', 'health.timeout', 'health.interval', 'health.upFor'])('brr.yaml %s over 596h is refused', (key) => {
    const [k1, k2] = key.split('.');
    const proc: Record<string, unknown> = { command: 'x' };
    if (k2) proc[k1!] = { [k2]: '597h' };
    else proc[k1!] = '597h';
    const e = brrErrorOf(() => parseManifest(JSON.stringify({ processes: { web: proc } })));
    expect(e).toMatchObject({ code: 'manifest_invalid', exitCode: 2 });
    expect(e.message).toContain(`processes.web.${key}: "597h" is longer than the 596h`);
  });
});

describe('schema as documentation', () => {
  it('the README reference lists every key the schema documents, with the same words', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.split('<!-- manifest-reference:start -->')[1]!.split('<!-- manifest-reference:end -->')[0]!;
    for (const [key, doc] of MANIFEST_DOC) {
      expect(section).toContain(`| \`${key}\` | ${doc.replace(/\|/g, '\\|')} |`);
    }
  });
});

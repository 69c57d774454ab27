import { describe, expect, it } from 'vitest';
import type { ProcessSpec } from '../../../src/core/types.js';
import type { RunSpec } from '../../../src/run/types.js';
import { planSlots, planSwitch, withImplicitPorts } from '../../../src/run/local/switch-plan.js';

const proc = (ports: ProcessSpec['ports'], scale = 1): ProcessSpec => ({
  command: 'node nf.mjs',
  scale,
  ports,
  graceMs: 1000,
  restart: 'always',
  health: { check: null, timeoutMs: 1000, intervalMs: 100, upForMs: 100 },
});
const http = { name: 'http', port: 8080, protocol: 'tcp' as const, address: '127.0.0.1' };
const data = { name: 'data', port: 2152, protocol: 'udp' as const, address: '127.0.0.1' };
const metrics = { name: 'metrics', port: 9090, protocol: 'tcp' as const, address: '127.0.0.1' };
const spec = (
  release: string,
  processes: Record<string, ProcessSpec>,
  formation: Record<string, number> = {},
): RunSpec => ({
  app: 'upf',
  release,
  releaseHash: `hash-${release}`,
  dir: `/r/${release}`,
  env: {},
  processes,
  formation,
});

describe('planSlots', () => {
  it('runs formation[type] ?? scale processes per type, indexed from 1, types sorted', () => {
    const s = spec('v1', { web: proc([http], 2), nf: proc([data], 1), idle: proc([], 3) }, { idle: 0, nf: 2 });
    expect(planSlots(s).map((x) => `${x.type}.${x.index}`)).toEqual(['nf.1', 'nf.2', 'web.1', 'web.2']);
  });
});

describe('withImplicitPorts (Heroku: web on $PORT)', () => {
  it('serves a web type without ports on the PORT of its config, by proxy', () => {
    const s = { ...spec('v1', { web: proc([]), worker: proc([]) }), env: { PORT: '8080' } };
    const slots = planSlots(s);
    expect(slots.find((x) => x.type === 'web')?.spec.ports).toEqual([
      { name: 'web', port: 8080, protocol: 'tcp', address: '127.0.0.1' },
    ]);
    expect(slots.find((x) => x.type === 'worker')?.spec.ports).toEqual([]);
    expect(withImplicitPorts('web', proc([http]), { PORT: '8080' }).ports).toEqual([http]);
  });

  it('leaves it alone without a usable PORT', () => {
    for (const PORT of [undefined, '', 'abc', '0', '70000', '80 ']) {
      const env: Record<string, string> = PORT === undefined ? {} : { PORT };
      expect(withImplicitPorts('web', proc([]), env).ports).toEqual([]);
    }
  });
});

describe('planSwitch', () => {
  it('is a no-op for the release already running', () => {
    expect(planSwitch(spec('v2', { nf: proc([http]) }), spec('v2', { nf: proc([http]) }))).toEqual({
      kind: 'noop',
      release: 'v2',
    });
  });

  it('switches when the same id has another hash', () => {
    const next = { ...spec('v2', { nf: proc([http]) }), releaseHash: 'other' };
    expect(planSwitch(spec('v2', { nf: proc([http]) }), next).kind).toBe('switch');
  });

  it('starts everything on a first start', () => {
    expect(planSwitch(null, spec('v1', { nf: proc([http, data], 2) }))).toEqual({
      kind: 'switch',
      from: null,
      to: 'v1',
      start: [
        { type: 'nf', index: 1, spec: proc([http, data], 2) },
        { type: 'nf', index: 2, spec: proc([http, data], 2) },
      ],
      ports: [http, data],
      closeAfter: [],
      drainCount: 0,
      strategy: 'overlap',
    });
  });

  it('stops first when a type of the new release asks for it', () => {
    const next = spec('v2', { web: { ...proc([]), switch: 'stop-first' }, nf: proc([data]) });
    expect(planSwitch(spec('v1', { web: proc([]) }), next)).toMatchObject({ strategy: 'stop-first' });
  });

  it('keeps shared ports, closes those only the old release declared, drains the old processes', () => {
    const old = spec('v1', { nf: proc([http, data], 3), mon: proc([metrics]) });
    const next = spec('v2', { nf: proc([data, http], 1) });
    const plan = planSwitch(old, next);
    expect(plan).toMatchObject({
      kind: 'switch',
      from: 'v1',
      to: 'v2',
      ports: [data, http],
      closeAfter: [metrics],
      drainCount: 4,
    });
  });

  it('does not hold ports of a type scaled to zero', () => {
    const plan = planSwitch(null, spec('v1', { nf: proc([http]), mon: proc([metrics]) }, { mon: 0 }));
    expect(plan).toMatchObject({ ports: [http] });
  });
});

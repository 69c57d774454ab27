import { describe, expect, it } from 'vitest';
import type { ProcessSpec } from '../../../src/core/types.js';
import type { RunSpec } from '../../../src/run/types.js';
import { planSlots, planSwitch } from '../../../src/run/local/switch-plan.js';

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
    });
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

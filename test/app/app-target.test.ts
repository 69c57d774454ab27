import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentTarget, listAppTargets, planTarget, setAppTarget } from '../../src/app/app-target.js';
import { openContext, type Context } from '../../src/app/context.js';
import { BrrError } from '../../src/core/errors.js';
import { parseManifest } from '../../src/manifest/load.js';

const k8s = { target: 'kubernetes', context: 'prod', namespace: 'upf', registry: 'registry.example.com/nf' };

function codeOf(f: () => unknown): string | null {
  try {
    f();
  } catch (e) {
    if (e instanceof BrrError) return e.code;
    throw e;
  }
  return null;
}

describe('per-app target', () => {
  it('validates flags into a target', () => {
    expect(planTarget({ ...k8s, kubeconfig: 'kube/config' }, '/home/u')).toEqual({
      ...k8s,
      kubeconfig: '/home/u/kube/config',
    });
    expect(planTarget({ ...k8s, registry: '127.0.0.1:5000/' })).toMatchObject({ registry: '127.0.0.1:5000' });
    expect(planTarget({ target: 'local' })).toEqual({ target: 'local' });
  });

  it.each([
    [{ target: 'k3s' }, 'target_invalid'],
    [{ target: 'kubernetes', context: 'c' }, 'target_flags_missing'],
    [{ ...k8s, namespace: 'UPF' }, 'target_namespace_invalid'],
    [{ ...k8s, registry: 'https://registry.example.com' }, 'target_registry_invalid'],
    [{ ...k8s, registry: 'registry.example.com/nf:latest' }, 'target_registry_invalid'],
    [{ target: 'local', namespace: 'x' }, 'target_flags_invalid'],
  ])('refuses %j', (flags, code) => {
    expect(codeOf(() => planTarget(flags))).toBe(code);
  });

  it('folds target-set events: the last well-formed one wins, none means local', () => {
    const ev = (detail: Record<string, unknown>) => ({ type: 'target-set' as const, detail });
    expect(currentTarget([])).toEqual({ target: 'local' });
    expect(currentTarget([ev({ ...k8s, kubeconfig: null }), ev({ target: 'kubernetes', context: 3 })])).toEqual({
      ...k8s,
      kubeconfig: null,
    });
    expect(currentTarget([ev({ ...k8s, kubeconfig: null }), ev({ target: 'local' })])).toEqual({ target: 'local' });
  });

  describe('in a ledger', () => {
    let home: string;
    let ctx: Context;
    beforeEach(() => {
      home = mkdtempSync(path.join(tmpdir(), 'brr-target-'));
      ctx = openContext({ home, actor: 'test@host' });
    });
    afterEach(async () => {
      await ctx.close();
      rmSync(home, { recursive: true, force: true });
    });

    it('records a change once (append-only), and lists apps with their targets', async () => {
      const t = planTarget(k8s);
      expect((await setAppTarget(ctx, 'upf', t)).changed).toBe(true);
      expect((await setAppTarget(ctx, 'upf', t)).changed).toBe(false);
      // Local is the default: setting it on a new app records nothing; switching back does.
      expect((await setAppTarget(ctx, 'smf', { target: 'local' })).changed).toBe(false);
      await setAppTarget(ctx, 'smf', t);
      await setAppTarget(ctx, 'smf', { target: 'local' });
      const events = await ctx.ledger.listEvents('upf');
      expect(events.map((e) => e.type)).toEqual(['target-set']);
      expect(events[0]!.detail).toEqual({ ...k8s, kubeconfig: null });
      expect(await listAppTargets(ctx)).toEqual([
        { app: 'smf', target: { target: 'local' }, current: null },
        { app: 'upf', target: { ...k8s, kubeconfig: null }, current: null },
      ]);
      expect((await ctx.ledger.verify()).ok).toBe(true);
    });
  });
});

describe('brr.yaml for Kubernetes: sctp ports and stateful processes', () => {
  it('accepts protocol sctp and stateful: true; records stateful only when true', () => {
    const m = parseManifest(
      'processes:\n  amf:\n    command: x\n    stateful: true\n    ports: [{ name: ngap, port: 38412, protocol: sctp }]\n  web:\n    command: y\n    stateful: false\n',
    );
    expect(m.processes.amf).toMatchObject({ stateful: true, ports: [{ name: 'ngap', port: 38412, protocol: 'sctp' }] });
    expect('stateful' in m.processes.web!).toBe(false);
  });

  it('refuses a non-boolean stateful and a health check on an sctp port', () => {
    expect(() => parseManifest('processes:\n  a:\n    command: x\n    stateful: yes please\n')).toThrow(
      'processes.a.stateful: expected true or false',
    );
    expect(() =>
      parseManifest(
        'processes:\n  a:\n    command: x\n    ports: [{ name: s, port: 1, protocol: sctp }]\n    health: { tcp: s }\n',
      ),
    ).toThrow('port "s" is sctp; health checks need a tcp port');
  });
});

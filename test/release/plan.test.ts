import { describe, expect, it } from 'vitest';
import { BrrError } from '../../src/core/errors.js';
import type { Release } from '../../src/core/types.js';
import {
  parseReleaseId,
  planConfigChange,
  planRelease,
  planRollback,
  planStagedConfig,
} from '../../src/release/plan.js';
import { ACTOR, COMMIT_A, COMMIT_B, DIGEST_A, DIGEST_B, NOW, makeRelease, plain, secret } from './fixtures.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof BrrError) return e.code;
    throw e;
  }
  return undefined;
}

describe('parseReleaseId', () => {
  it.each([
    ['v3', 'v3'],
    ['3', 'v3'],
    [' v12 ', 'v12'],
    ['v100000', 'v100000'],
  ])('%s → %s', (input, id) => expect(parseReleaseId(input)).toBe(id));

  it.each(['', 'v', 'v0', '0', 'v03', 'V3', '3a', 'v-1', 'v1.5', 'latest'])('rejects %j', (input) => {
    expect(codeOf(() => parseReleaseId(input))).toBe('release_id_invalid');
  });
});

describe('planRelease', () => {
  const base = { build: { digest: DIGEST_B, commit: COMMIT_B }, formation: { web: 2 }, actor: ACTOR, now: NOW };

  it('carries the latest config and stamps time, actor and a deploy cause', () => {
    const latest = makeRelease(4, { config: { A: plain('1'), T: secret('s') } });
    expect(planRelease({ ...base, latest, staged: { IGNORED: plain('x') }, message: '  first try  ' })).toEqual({
      build: { digest: DIGEST_B, commit: COMMIT_B },
      config: { A: plain('1'), T: secret('s') },
      formation: { web: 2 },
      cause: 'deploy 9f8e7d6',
      message: 'first try',
      actor: ACTOR,
      createdAt: '2025-03-01T12:00:00.000Z',
      rollbackOf: null,
    });
  });

  it('uses the staged config for the first release, and an explicit cause', () => {
    const d = planRelease({ ...base, latest: null, staged: { B: plain('2') }, cause: 'promote from upf-staging' });
    expect(d.config).toEqual({ B: plain('2') });
    expect(d.cause).toBe('promote from upf-staging');
    expect(d.message).toBeNull();
  });

  it('never aliases the latest release config', () => {
    const latest = makeRelease(1);
    const d = planRelease({ ...base, latest, staged: {} });
    (d.config.LOG_LEVEL as { value: string }).value = 'changed';
    expect(latest.config.LOG_LEVEL?.value).toBe('info');
  });

  it.each([
    ['bad digest', { build: { digest: 'sha256:abc', commit: COMMIT_A } }, 'build_digest_invalid'],
    ['bad commit', { build: { digest: DIGEST_A, commit: 'main' } }, 'build_commit_invalid'],
    ['negative scale', { formation: { web: -1 } }, 'formation_invalid'],
    ['fractional scale', { formation: { web: 1.5 } }, 'formation_invalid'],
  ])('rejects %s', (_name, over, code) => {
    expect(codeOf(() => planRelease({ ...base, latest: null, staged: {}, ...over }))).toBe(code);
  });
});

describe('planConfigChange', () => {
  const latest = makeRelease(3, {
    config: { LOG_LEVEL: plain('info'), TOKEN: secret('old'), X: plain('1') },
    formation: { web: 3 },
  });
  const base = { latest, actor: ACTOR, now: NOW, secret: false, set: {}, unset: [] as string[] };

  it.each([
    [
      'set one key',
      { set: { LOG_LEVEL: 'debug' } },
      'set LOG_LEVEL',
      { LOG_LEVEL: plain('debug'), TOKEN: secret('old'), X: plain('1') },
    ],
    [
      'set two keys in the order given',
      { set: { LOG_LEVEL: 'debug', GREETING: 'hi' } },
      'set LOG_LEVEL, GREETING',
      { GREETING: plain('hi'), LOG_LEVEL: plain('debug'), TOKEN: secret('old'), X: plain('1') },
    ],
    [
      'only changed keys in the cause',
      { set: { LOG_LEVEL: 'info', GREETING: 'hi' } },
      'set GREETING',
      { GREETING: plain('hi'), LOG_LEVEL: plain('info'), TOKEN: secret('old'), X: plain('1') },
    ],
    ['unset', { unset: ['X'] }, 'unset X', { LOG_LEVEL: plain('info'), TOKEN: secret('old') }],
    [
      'set and unset',
      { set: { A: '1' }, unset: ['X'] },
      'set A; unset X',
      { A: plain('1'), LOG_LEVEL: plain('info'), TOKEN: secret('old') },
    ],
    [
      'secret flag',
      { set: { API_KEY: 'k' }, secret: true },
      'set API_KEY',
      { API_KEY: secret('k'), LOG_LEVEL: plain('info'), TOKEN: secret('old'), X: plain('1') },
    ],
    [
      'secret is sticky without the flag',
      { set: { TOKEN: 'new' } },
      'set TOKEN',
      { LOG_LEVEL: plain('info'), TOKEN: secret('new'), X: plain('1') },
    ],
    [
      'making a plain key secret is a change',
      { set: { X: '1' }, secret: true },
      'set X',
      { LOG_LEVEL: plain('info'), TOKEN: secret('old'), X: secret('1') },
    ],
    [
      'value with = and empty value',
      { set: { URL: 'a=b=c', EMPTY: '' } },
      'set URL, EMPTY',
      { EMPTY: plain(''), LOG_LEVEL: plain('info'), TOKEN: secret('old'), URL: plain('a=b=c'), X: plain('1') },
    ],
  ])('%s', (_name, over, cause, config) => {
    const d = planConfigChange({ ...base, ...over });
    expect(d).not.toBeNull();
    expect(d?.cause).toBe(cause);
    expect(d?.config).toEqual(config);
    expect(Object.keys(d?.config ?? {})).toEqual(Object.keys(config).sort());
    expect(d?.build).toEqual(latest.build);
    expect(d?.formation).toEqual({ web: 3 });
    expect(d?.rollbackOf).toBeNull();
    expect(d?.createdAt).toBe(NOW.toISOString());
  });

  it.each([
    ['same value', { set: { LOG_LEVEL: 'info' } }],
    ['same secret value', { set: { TOKEN: 'old' } }],
    ['nothing given', {}],
  ])('returns null when nothing changes: %s', (_name, over) => {
    expect(planConfigChange({ ...base, ...over })).toBeNull();
  });

  it.each([
    ['unset a missing key', { unset: ['NOPE'] }, 'config_key_missing'],
    ['set and unset one key', { set: { X: '2' }, unset: ['X'] }, 'config_key_conflict'],
    ['reserved key', { set: { LISTEN_FDS: '3' } }, 'config_key_reserved'],
    ['BRR_ prefix', { set: { BRR_HOME: '/x' } }, 'config_key_reserved'],
    ['invalid key', { set: { '1X': 'y' } }, 'config_key_invalid'],
  ])('rejects: %s', (_name, over, code) => {
    expect(codeOf(() => planConfigChange({ ...base, ...over }))).toBe(code);
  });
});

describe('planStagedConfig', () => {
  const base = { actor: ACTOR, now: NOW, secret: false, set: {}, unset: [] as string[] };

  it('returns a config-staged event with only the actual changes', () => {
    const e = planStagedConfig({
      ...base,
      staged: { A: plain('1'), B: plain('2') },
      set: { A: '1', C: '3' },
      unset: ['B'],
    });
    expect(e).toEqual({
      type: 'config-staged',
      release: null,
      detail: { set: { C: plain('3') }, unset: ['B'] },
      actor: ACTOR,
      createdAt: NOW.toISOString(),
    });
  });

  it('marks secrets and returns null for no change', () => {
    expect(planStagedConfig({ ...base, staged: {}, set: { T: 's' }, secret: true })?.detail).toEqual({
      set: { T: secret('s') },
      unset: [],
    });
    expect(planStagedConfig({ ...base, staged: { T: secret('s') }, set: { T: 's' } })).toBeNull();
  });

  it('refuses to unset what was never staged', () => {
    expect(codeOf(() => planStagedConfig({ ...base, staged: {}, unset: ['A'] }))).toBe('config_key_missing');
  });
});

describe('planRollback', () => {
  // v1 (A, web=1) → v2 (B, LOG debug, web=2) → v3 (config change) → v4 (rollback to v2)
  const v1 = makeRelease(1, {
    build: { digest: DIGEST_A, commit: COMMIT_A },
    config: { LOG_LEVEL: plain('info'), T: secret('one') },
  });
  const v2 = makeRelease(2, {
    build: { digest: DIGEST_B, commit: COMMIT_B },
    config: { LOG_LEVEL: plain('debug'), T: secret('two') },
    formation: { web: 2 },
  });
  const v3 = makeRelease(3, {
    build: v2.build,
    config: { LOG_LEVEL: plain('warn'), T: secret('two') },
    formation: { web: 2 },
  });
  const v4 = makeRelease(4, {
    build: v2.build,
    config: v2.config,
    formation: v2.formation,
    cause: 'rollback to v2',
    rollbackOf: 'v2',
  });
  const releases: Release[] = [v4, v3, v2, v1];
  const base = { releases, actor: ACTOR, now: NOW };

  it.each([
    ['default: the release before the latest', { currentId: null }, v3],
    ['default: the release before the current one', { currentId: 'v2' }, v1],
    ['explicit target', { currentId: null, targetId: 'v1' }, v1],
    ['explicit target without v', { currentId: null, targetId: '2' }, v2],
    ['forward to a newer release than the current', { currentId: 'v2', targetId: 'v3' }, v3],
  ])('%s', (_name, over, target) => {
    expect(planRollback({ ...base, ...over })).toEqual({
      build: target.build,
      config: target.config,
      formation: target.formation,
      cause: `rollback to ${target.id}`,
      message: null,
      actor: ACTOR,
      createdAt: NOW.toISOString(),
      rollbackOf: target.id,
    });
  });

  it.each([
    ['unknown target', { currentId: null, targetId: 'v9' }, 'release_not_found'],
    ['malformed target', { currentId: null, targetId: 'latest' }, 'release_id_invalid'],
    ['target is current', { currentId: 'v3', targetId: 'v3' }, 'rollback_target_is_current'],
    ['target is the latest by default', { currentId: null, targetId: 'v4' }, 'rollback_target_is_current'],
    ['nothing before the first release', { currentId: 'v1' }, 'nothing_to_roll_back'],
  ])('rejects: %s', (_name, over, code) => {
    expect(codeOf(() => planRollback({ ...base, ...over }))).toBe(code);
  });

  it('rejects an app without releases, and one with a single release', () => {
    expect(codeOf(() => planRollback({ ...base, releases: [], currentId: null }))).toBe('nothing_to_roll_back');
    expect(codeOf(() => planRollback({ ...base, releases: [v1], currentId: null }))).toBe('nothing_to_roll_back');
  });

  it('gives the next step in the hint', () => {
    try {
      planRollback({ ...base, currentId: null, targetId: 'v9' });
      expect.unreachable();
    } catch (e) {
      expect((e as BrrError).hint).toContain('brr releases');
      expect((e as BrrError).exitCode).toBe(1);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { diffReleases, renderDiff } from '../../src/release/diff.js';
import { COMMIT_B, DIGEST_B, makeRelease, plain, secret } from './fixtures.js';

const SECRET_OLD = 'old-s3cr3t-value';
const SECRET_NEW = 'new-s3cr3t-value';

describe('diffReleases', () => {
  const a = makeRelease(1, {
    config: {
      KEEP: plain('same'),
      LOG_LEVEL: plain('info'),
      GONE: plain('bye'),
      TOKEN: secret(SECRET_OLD),
      WAS_PLAIN: plain(SECRET_OLD),
      STAYS_SECRET: secret(SECRET_OLD),
    },
    formation: { web: 1, worker: 2 },
  });
  const b = makeRelease(2, {
    build: { digest: DIGEST_B, commit: COMMIT_B },
    config: {
      KEEP: plain('same'),
      LOG_LEVEL: plain('debug'),
      NEW: plain('hello'),
      TOKEN: secret(SECRET_NEW),
      WAS_PLAIN: secret(SECRET_NEW),
      STAYS_SECRET: secret(SECRET_OLD),
      ADDED_SECRET: secret(SECRET_NEW),
    },
    formation: { web: 3, udp: 1 },
  });
  const diff = diffReleases(a, b);

  it('lists added, removed and changed keys, sorted', () => {
    expect(diff.config).toEqual({
      added: ['ADDED_SECRET', 'NEW'],
      removed: ['GONE'],
      changed: [
        { key: 'LOG_LEVEL', from: 'info', to: 'debug', secret: false },
        { key: 'TOKEN', secret: true },
        { key: 'WAS_PLAIN', secret: true },
      ],
    });
  });

  it('compares build, commit and formation', () => {
    expect(diff.from).toBe('v1');
    expect(diff.to).toBe('v2');
    expect(diff.build).toEqual({ from: a.build.digest, to: DIGEST_B, changed: true });
    expect(diff.commit).toEqual({ from: a.build.commit, to: COMMIT_B, changed: true });
    expect(diff.formation).toEqual([
      { type: 'udp', from: null, to: 1 },
      { type: 'web', from: 1, to: 3 },
      { type: 'worker', from: 2, to: null },
    ]);
    expect(diff.changed).toBe(true);
  });

  it('never carries a secret value, neither in the data nor in the text', () => {
    const text = renderDiff(diff).join('\n');
    for (const s of [SECRET_OLD, SECRET_NEW]) {
      expect(JSON.stringify(diff)).not.toContain(s);
      expect(text).not.toContain(s);
    }
    expect(text).toContain('TOKEN (secret, changed)');
    expect(text).toContain('WAS_PLAIN (secret, changed)');
  });

  it('renders human lines', () => {
    expect(renderDiff(diff)).toEqual([
      'v1 → v2',
      `  build   ${a.build.digest} → ${DIGEST_B}`,
      `  commit  ${a.build.commit.slice(0, 12)} → ${COMMIT_B.slice(0, 12)}`,
      '  config  + ADDED_SECRET',
      '  config  + NEW',
      '  config  - GONE',
      '  config  ~ LOG_LEVEL: "info" → "debug"',
      '  config  ~ TOKEN (secret, changed)',
      '  config  ~ WAS_PLAIN (secret, changed)',
      '  scale   udp: none → 1',
      '  scale   web: 1 → 3',
      '  scale   worker: 2 → none',
    ]);
  });

  it('reports no differences between identical content', () => {
    const d = diffReleases(a, makeRelease(5, { config: a.config, formation: a.formation }));
    expect(d.changed).toBe(false);
    expect(renderDiff(d)).toEqual(['v1 → v5', '  no differences']);
  });
});

import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/core/types.js';
import { generateSigningKey, loadSigner, signReleaseHash } from '../../src/release/signing.js';
import {
  planTrustChange,
  releaseSignatures,
  signerName,
  trustedSignature,
  trustPolicy,
} from '../../src/release/trust.js';
import { NOW } from './fixtures.js';

const A = generateSigningKey();
const B = generateSigningKey();
type Ev = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'>;
const trust = (detail: Record<string, unknown>, actor = 'alice', at = NOW.toISOString()): Ev => ({
  type: 'trust-changed',
  release: null,
  detail,
  actor,
  createdAt: at,
});
const add = (...keys: Array<{ keyId: string; publicKey: string }>) =>
  trust({ add: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })) });
const remove = (...ids: string[]) => trust({ remove: ids });

describe('trustPolicy (fold over trust-changed events)', () => {
  it.each<[string, Ev[], string[]]>([
    ['no events: no policy', [], []],
    ['one added key', [add(A)], [A.keyId]],
    ['two keys, sorted by id', [add(B), add(A)], [A.keyId, B.keyId].sort()],
    ['adding twice keeps one', [add(A), add(A)], [A.keyId]],
    ['removed', [add(A), add(B), remove(A.keyId)], [B.keyId]],
    ['re-added after removal', [add(A), remove(A.keyId), add(A)], [A.keyId]],
    ['removing an unknown id changes nothing', [add(A), remove('ed25519:0000000000000000')], [A.keyId]],
    [
      'an id that does not derive from its key is skipped',
      [trust({ add: [{ keyId: B.keyId, publicKey: A.publicKey }] })],
      [],
    ],
    [
      'malformed members are skipped',
      [trust({ add: [null, { keyId: 1 }, { keyId: A.keyId, publicKey: 'x' }] }), trust({ remove: [7] })],
      [],
    ],
    ['other event types are ignored', [{ ...add(A), type: 'activated' }], []],
  ])('%s', (_name, events, ids) => {
    expect(trustPolicy(events).map((k) => k.keyId)).toEqual(ids);
  });

  it('records who added a key and when', () => {
    expect(
      trustPolicy([
        trust({ add: [{ keyId: A.keyId, publicKey: A.publicKey }] }, 'bob@ops', '2025-01-01T00:00:00.000Z'),
      ]),
    ).toEqual([{ keyId: A.keyId, publicKey: A.publicKey, addedBy: 'bob@ops', addedAt: '2025-01-01T00:00:00.000Z' }]);
  });
});

describe('planTrustChange', () => {
  it('adds a key given in any accepted form, or does nothing when already trusted', () => {
    const e = planTrustChange([], { add: A.privatePem }, 'alice', NOW);
    expect(e).toEqual({
      type: 'trust-changed',
      release: null,
      detail: { add: [{ keyId: A.keyId, publicKey: A.publicKey }] },
      actor: 'alice',
      createdAt: NOW.toISOString(),
    });
    expect(planTrustChange(trustPolicy([e!]), { add: A.publicKey }, 'alice', NOW)).toBeNull();
  });

  it('removes a trusted key and refuses an unknown one', () => {
    const policy = trustPolicy([add(A)]);
    expect(planTrustChange(policy, { remove: A.keyId }, 'alice', NOW)?.detail).toEqual({ remove: [A.keyId] });
    expect(() => planTrustChange(policy, { remove: B.keyId }, 'alice', NOW)).toThrow(
      expect.objectContaining({ code: 'key_not_trusted' }),
    );
  });
});

describe('trustedSignature', () => {
  const rel = { app: 'upf-prod', id: 'v1', hash: 'e'.repeat(64) };
  const signed = (k: typeof A, over: Record<string, unknown> = {}): Ev => ({
    type: 'signed',
    release: 'v1',
    detail: { ...signReleaseHash(loadSigner(k.privatePem, 'k'), rel), ...over },
    actor: 'a',
    createdAt: NOW.toISOString(),
  });

  it('needs a valid signature by a trusted key', () => {
    const policy = trustPolicy([add(A)]);
    expect(trustedSignature(policy, releaseSignatures([signed(B)], rel))).toBeNull();
    expect(trustedSignature(policy, releaseSignatures([signed(A, { hash: 'f'.repeat(64) })], rel))).toBeNull();
    expect(trustedSignature(policy, releaseSignatures([signed(B), signed(A)], rel))?.keyId).toBe(A.keyId);
    expect(signerName(releaseSignatures([signed(B), signed(A)], rel))).toBe(B.keyId);
    expect(signerName(releaseSignatures([], rel))).toBe('unsigned');
  });

  it('ignores signatures of other releases', () => {
    expect(releaseSignatures([{ ...signed(A), release: 'v2' }], rel)).toEqual([]);
  });
});

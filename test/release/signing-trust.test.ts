import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/core/types.js';
import { generateSigningKey, loadSigner, signReleaseHash } from '../../src/release/signing.js';
import {
  foldTrust,
  planTrustChange,
  trustChangeProblems,
  releaseSignatures,
  signerName,
  trustedSignature,
  trustPolicy,
} from '../../src/release/trust.js';
import { NOW } from './fixtures.js';

const A = generateSigningKey();
const B = generateSigningKey();
type Ev = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'> &
  Partial<Pick<LedgerEvent, 'app' | 'hash' | 'seq'>>;
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

/**
 * A history of trust changes as the ledger would hold it: seq and a stand-in hash per event, and
 * each change after the bootstrap signed by `by` (a key trusted then, unless a test says not).
 */
function history(...steps: Array<{ change: { add: string } | { remove: string }; by?: typeof A }>): Ev[] {
  const out: Ev[] = [];
  for (const [i, step] of steps.entries()) {
    const signer = step.by ? loadSigner(step.by.privatePem, 'k') : null;
    const prev = out.at(-1)?.hash ?? null;
    let e: Ev | null;
    try {
      e = planTrustChange(trustPolicy(out), step.change, 'alice', NOW, { app: 'upf', prevTrustHash: prev, signer });
    } catch {
      e = null;
    }
    if (e) out.push({ ...e, app: 'upf', seq: i + 1, hash: `h${i + 1}` });
  }
  return out;
}

describe('signed trust changes', () => {
  it('bootstraps unsigned, then needs a signature by a key trusted at that moment', () => {
    const events = history({ change: { add: A.publicKey } }, { change: { add: B.publicKey }, by: A });
    expect(trustPolicy(events).map((k) => k.keyId)).toEqual([A.keyId, B.keyId].sort());
    expect(trustChangeProblems('upf', events)).toEqual([]);
    // B (trusted now) removes A, then B removes itself: the policy is empty again, all signed.
    const more = history(
      { change: { add: A.publicKey } },
      { change: { add: B.publicKey }, by: A },
      { change: { remove: A.keyId }, by: B },
      { change: { remove: B.keyId }, by: B },
    );
    expect(trustPolicy(more)).toEqual([]);
    expect(trustChangeProblems('upf', more)).toEqual([]);
  });

  it('planning refuses an unsigned change, or one signed by an untrusted key, once a key is trusted', () => {
    const events = history({ change: { add: A.publicKey } });
    const plan = (signer: typeof A | null) =>
      planTrustChange(trustPolicy(events), { remove: A.keyId }, 'mallory', NOW, {
        app: 'upf',
        prevTrustHash: 'h1',
        signer: signer && loadSigner(signer.privatePem, 'k'),
      });
    expect(() => plan(null)).toThrow(expect.objectContaining({ code: 'trust_change_unsigned', exitCode: 2 }));
    expect(() => plan(B)).toThrow(expect.objectContaining({ code: 'trust_change_untrusted_signer' }));
    expect(plan(A)?.detail).toMatchObject({ remove: [A.keyId], signature: { keyId: A.keyId } });
  });

  it.each<[string, (e: Ev[]) => Ev]>([
    ['unsigned', () => ({ ...remove(A.keyId), app: 'upf', seq: 2, hash: 'h2' })],
    [
      'signed by an untrusted key',
      (ev) => {
        const e = planTrustChange([], { add: B.publicKey }, 'm', NOW, {
          app: 'upf',
          prevTrustHash: ev[0]!.hash!,
          signer: loadSigner(B.privatePem, 'b'),
        })!;
        return {
          ...e,
          detail: { remove: [A.keyId], signature: (e.detail as { signature: unknown }).signature },
          app: 'upf',
          seq: 2,
          hash: 'h2',
        };
      },
    ],
    [
      'a signed change replayed after another change',
      (ev) => {
        const e = planTrustChange(trustPolicy(ev), { remove: A.keyId }, 'm', NOW, {
          app: 'upf',
          prevTrustHash: 'some-older-change',
          signer: loadSigner(A.privatePem, 'a'),
        })!;
        return { ...e, app: 'upf', seq: 2, hash: 'h2' };
      },
    ],
  ])('an %s removal is ignored by the fold and reported', (_name, forge) => {
    const events = history({ change: { add: A.publicKey } });
    const all = [...events, forge(events)];
    expect(trustPolicy(all).map((k) => k.keyId)).toEqual([A.keyId]);
    expect(trustChangeProblems('upf', all)).toEqual([
      expect.objectContaining({ app: 'upf', kind: 'event', seq: 2, problem: expect.stringMatching(/ignored/) }),
    ]);
    expect(foldTrust(all).verdicts.map((v) => v.accepted)).toEqual([true, false]);
  });
});

describe('trustPolicy (fold over trust-changed events, bootstrap only)', () => {
  it.each<[string, Ev[], string[]]>([
    ['no events: no policy', [], []],
    ['one added key', [add(A)], [A.keyId]],
    ['two keys in one bootstrap, sorted by id', [add(B, A)], [A.keyId, B.keyId].sort()],
    ['an unsigned second change is ignored', [add(A), add(B)], [A.keyId]],
    ['an unsigned removal is ignored', [add(A), remove(A.keyId)], [A.keyId]],
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
    const sign = { app: 'upf', prevTrustHash: 'h1', signer: loadSigner(A.privatePem, 'a') };
    expect(planTrustChange(policy, { remove: A.keyId }, 'alice', NOW, sign)?.detail).toMatchObject({
      remove: [A.keyId],
    });
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

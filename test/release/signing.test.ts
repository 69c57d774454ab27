import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { signExisting, signRelease } from '../../src/app/sign-release.js';
import { signatureProblems, verifyLedger } from '../../src/app/verify-ledger.js';
import { fixedClock } from '../../src/core/clock.js';
import type { Release } from '../../src/core/types.js';
import {
  checkSignature,
  generateSigningKey,
  keyIdOf,
  loadSigner,
  parsePublicKey,
  releaseSigningText,
  signReleaseHash,
} from '../../src/release/signing.js';
import { checkReleaseTrusted, changeTrust } from '../../src/release/trust.js';
import { COMMIT_A, DIGEST_A, NOW, makeRelease } from './fixtures.js';

const REL = { app: 'upf-prod', id: 'v3', hash: 'c'.repeat(64) };

describe('keys', () => {
  it('generates Ed25519 keys whose id derives from the raw public key', () => {
    const k = generateSigningKey();
    expect(k.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    expect(k.keyId).toBe(keyIdOf(Buffer.from(k.publicKey, 'base64')));
    expect(Buffer.from(k.publicKey, 'base64')).toHaveLength(32);
    const s = loadSigner(k.privatePem, 'k.pem');
    expect({ keyId: s.keyId, publicKey: s.publicKey }).toEqual({ keyId: k.keyId, publicKey: k.publicKey });
  });

  it('reads public keys as raw base64, SPKI DER base64, public PEM and private PEM alike', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const forms = [
      parsePublicKey(spki),
      parsePublicKey(publicKey.export({ format: 'pem', type: 'spki' }).toString()),
      parsePublicKey(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
    ];
    const raw = forms[0]!.publicKey;
    forms.push(parsePublicKey(raw));
    for (const f of forms)
      expect({ keyId: f.keyId, publicKey: f.publicKey }).toEqual({ keyId: forms[0]!.keyId, publicKey: raw });
  });

  it('refuses what is not an Ed25519 key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => parsePublicKey('not a key!')).toThrow(expect.objectContaining({ code: 'public_key_invalid' }));
    expect(() => parsePublicKey(Buffer.alloc(31).toString('base64'))).toThrow(
      expect.objectContaining({ code: 'public_key_invalid' }),
    );
    expect(() => parsePublicKey(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString())).toThrow(
      expect.objectContaining({ code: 'key_not_ed25519' }),
    );
    expect(() => loadSigner(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'rsa.pem')).toThrow(
      expect.objectContaining({ code: 'signing_key_invalid' }),
    );
    expect(() => loadSigner('garbage', 'x.pem')).toThrow(expect.objectContaining({ code: 'signing_key_invalid' }));
  });
});

describe('checkSignature', () => {
  const signer = loadSigner(generateSigningKey().privatePem, 'a.pem');
  const other = loadSigner(generateSigningKey().privatePem, 'b.pem');
  const detail = signReleaseHash(signer, REL);

  it('accepts a signature over app, id and hash', () => {
    expect(checkSignature({ ...detail }, REL)).toEqual({
      keyId: signer.keyId,
      publicKey: signer.publicKey,
      valid: true,
      problem: null,
    });
  });

  it.each([
    ['the release hash changed (tampered release)', { ...detail }, { ...REL, hash: 'd'.repeat(64) }, /covers hash/],
    ['the signature is moved to another release id', { ...detail }, { ...REL, id: 'v4' }, /does not verify/],
    ['the signature is moved to another app', { ...detail }, { ...REL, app: 'upf-staging' }, /does not verify/],
    ['a byte of the signature is flipped', { ...detail, signature: flip(detail.signature) }, REL, /does not verify/],
    [
      'someone else signed but claims the key (forged)',
      { ...detail, signature: signReleaseHash(other, REL).signature },
      REL,
      /does not verify/,
    ],
    ['the key id is claimed for another public key', { ...detail, keyId: other.keyId }, REL, /claims key/],
    [
      'the event misses a member',
      { hash: detail.hash, keyId: detail.keyId, publicKey: detail.publicKey },
      REL,
      /malformed/,
    ],
    ['the public key is garbage', { ...detail, publicKey: 'AAAA' }, REL, /not an Ed25519 key/],
  ])('rejects it when %s', (_name, d, release, problem) => {
    const c = checkSignature(d as Record<string, unknown>, release);
    expect(c.valid).toBe(false);
    expect(c.problem).toMatch(problem);
  });

  it('signs exactly the documented text', () => {
    const sig = sign(null, Buffer.from(`brr-release-v1:${REL.app}:${REL.id}:${REL.hash}`), signer.privateKey).toString(
      'base64',
    );
    expect(releaseSigningText(REL.app, REL.id, REL.hash)).toBe(`brr-release-v1:upf-prod:v3:${REL.hash}`);
    expect(checkSignature({ ...detail, signature: sig }, REL).valid).toBe(true);
  });
});

describe('signatureProblems', () => {
  const signer = loadSigner(generateSigningKey().privatePem, 'a.pem');
  const v1 = makeRelease(1, { app: 'upf-prod', hash: '1'.repeat(64) });
  const ev = (seq: number, release: string | null, detail: Record<string, unknown>) => ({
    app: 'upf-prod',
    seq,
    type: 'signed' as const,
    release,
    detail,
    actor: 'a',
    createdAt: NOW.toISOString(),
    prevHash: null,
    hash: 'h',
  });

  it('reports bad signatures and signatures of releases that do not exist, on the event', () => {
    const good = { ...signReleaseHash(signer, v1) };
    const problems = signatureProblems(
      'upf-prod',
      [v1],
      [ev(1, 'v1', good), ev(2, 'v1', { ...good, hash: '2'.repeat(64) }), ev(3, 'v9', good)],
    );
    expect(problems.map((p) => [p.seq, p.kind])).toEqual([
      [2, 'event'],
      [3, 'event'],
    ]);
    expect(problems[0]!.problem).toMatch(/^v1: signature by ed25519:\w+ covers hash/);
    expect(problems[1]!.problem).toMatch(/v9, which does not exist/);
  });
});

describe('signing through a real SQLite ledger', () => {
  let dir: string;
  let ctx: Context;
  const signerA = loadSigner(generateSigningKey().privatePem, 'a.pem');
  const signerB = loadSigner(generateSigningKey().privatePem, 'b.pem');
  const append = (level: string): Promise<Release> =>
    ctx.ledger.appendRelease('upf-prod', () => ({
      build: { digest: DIGEST_A, commit: COMMIT_A },
      config: { LOG_LEVEL: { value: level, secret: false } },
      formation: { web: 1 },
      cause: `set LOG_LEVEL`,
      message: null,
      actor: 'tester',
      createdAt: NOW.toISOString(),
      rollbackOf: null,
    }));
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-sign-'));
    ctx = openContext({ home: dir, clock: fixedClock(NOW.toISOString()), actor: 'tester@unit' });
  });
  afterEach(async () => {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the signer of each release; unsigned ones too; no problems', async () => {
    const v1 = await append('info');
    const v2 = await append('debug');
    expect(await signRelease(ctx, v1, signerA)).toMatchObject({
      type: 'signed',
      release: 'v1',
      detail: { keyId: signerA.keyId, hash: v1.hash },
    });
    expect(await signRelease(ctx, v2, null)).toBeNull();
    const r = await verifyLedger(ctx);
    expect(r.ok).toBe(true);
    expect(r.signers.map((s) => [s.release, s.signer, s.trusted])).toEqual([
      ['v1', signerA.keyId, null],
      ['v2', 'unsigned', null],
    ]);
  });

  it('a forged signature event, written through the library with the right hash, fails verify', async () => {
    const v1 = await append('info');
    const forged = { ...signReleaseHash(signerA, v1), signature: signReleaseHash(signerB, v1).signature };
    await ctx.ledger.appendEvent('upf-prod', {
      type: 'signed',
      release: 'v1',
      detail: forged,
      actor: 'mallory',
      createdAt: NOW.toISOString(),
    });
    const r = await verifyLedger(ctx);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({
        app: 'upf-prod',
        kind: 'event',
        seq: 1,
        problem: expect.stringMatching(/does not verify/),
      }),
    ]);
    expect(r.signers[0]!.signer).toBe('unsigned');
  });

  it('trust policy: refuses unsigned and untrusted releases, accepts trusted ones', async () => {
    const v1 = await append('info');
    await checkReleaseTrusted(ctx, 'upf-prod', v1); // no policy: anything runs
    await changeTrust(ctx, 'upf-prod', { add: signerA.publicKey });
    await expect(checkReleaseTrusted(ctx, 'upf-prod', v1)).rejects.toMatchObject({
      code: 'release_untrusted',
      message: expect.stringContaining('v1 is not signed by a trusted key (unsigned)'),
    });
    await signRelease(ctx, v1, signerB);
    await expect(checkReleaseTrusted(ctx, 'upf-prod', v1)).rejects.toMatchObject({
      message: expect.stringContaining(`signed only by untrusted ${signerB.keyId}`),
    });
    await signRelease(ctx, v1, signerA);
    await checkReleaseTrusted(ctx, 'upf-prod', v1);
    const r = await verifyLedger(ctx);
    expect(r.signers[0]).toMatchObject({ signer: signerA.keyId, trusted: true });
    await expect(changeTrust(ctx, 'upf-prod', { remove: signerA.keyId }, null)).rejects.toMatchObject({
      code: 'trust_change_unsigned',
    });
    await expect(changeTrust(ctx, 'upf-prod', { remove: signerA.keyId }, signerB)).rejects.toMatchObject({
      code: 'trust_change_untrusted_signer',
    });
    await checkReleaseTrusted(ctx, 'upf-prod', v1); // still refused above; signed by A, so it runs
    await changeTrust(ctx, 'upf-prod', { remove: signerA.keyId }, signerA);
    await checkReleaseTrusted(ctx, 'upf-prod', v1); // policy empty again
  });

  it('brr sign signs an existing release once per key', async () => {
    await append('info');
    const file = path.join(dir, 'k.pem');
    const keyed = { ...ctx, settings: { ...ctx.settings, signingKeyFile: file } };
    const unkeyed = { ...ctx, settings: { ...ctx.settings, signingKeyFile: null } };
    await expect(signExisting(unkeyed, 'upf-prod', 'v1')).rejects.toMatchObject({ code: 'signing_key_missing' });
    await expect(signExisting(keyed, 'upf-prod', 'v1')).rejects.toMatchObject({ code: 'signing_key_unreadable' });
    const key = generateSigningKey();
    fs.writeFileSync(file, key.privatePem, { mode: 0o600 });
    expect(await signExisting(keyed, 'upf-prod', 'v1')).toMatchObject({
      release: 'v1',
      keyId: key.keyId,
      signed: true,
    });
    expect(await signExisting(keyed, 'upf-prod', undefined)).toMatchObject({ release: 'v1', signed: false });
    expect((await ctx.ledger.listEvents('upf-prod')).filter((e) => e.type === 'signed')).toHaveLength(1);
  });
});

function flip(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  b[5] = b[5]! ^ 1;
  return b.toString('base64');
}

import { sign as cryptoSign, verify } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import { BrrError, invalidInput } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import type { Ledger, NewEvent, VerifyProblem } from '../ledger/ledger.js';
import { checkSignature, parsePublicKey, type SignatureCheck, type Signer } from './signing.js';

/**
 * An app's trust policy: the public keys whose signature the run stage accepts. Like all state
 * it is a fold over append-only 'trust-changed' events, so who trusted which key, and when, is
 * part of the audited history. No trusted key = no policy: every release runs, as before.
 *
 * Trust changes are signed: once an app trusts a key, a change (adding, removing or replacing a
 * key, down to removing the last one) counts only when it carries a valid signature by a key
 * trusted AT THAT MOMENT, over the app, the change, and the hash of the previous trust change (so
 * a signed change cannot be replayed later). Anyone who can write the ledger can append an
 * unsigned change, but the fold ignores it and `brr verify` names it.
 *
 * The bootstrap, adding keys while none is trusted, needs no signature: at that point every
 * release runs anyway, so it lowers nothing; it is an audited event, held in place by the hash
 * chain and the home's witness, and from then on only a trusted key can change the policy.
 */

export interface TrustedKey {
  keyId: string;
  /** Base64 of the raw Ed25519 public key. */
  publicKey: string;
  addedBy: string;
  addedAt: string;
}

/** Detail of a 'trust-changed' event. */
export interface TrustChangeDetail {
  add?: Array<{ keyId: string; publicKey: string }>;
  remove?: string[];
  /** Required once the app trusts a key: by a key trusted before this change. */
  signature?: { keyId: string; publicKey: string; signature: string };
}

type EventLike = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'> &
  Partial<Pick<LedgerEvent, 'app' | 'hash' | 'seq'>>;

/** The exact bytes a trust-change signature covers. */
export function trustSigningText(
  app: string,
  prevTrustHash: string | null,
  change: Pick<TrustChangeDetail, 'add' | 'remove'>,
): string {
  return `brr-trust-v1:${app}:${prevTrustHash ?? 'genesis'}:${canonicalJson({ add: change.add ?? [], remove: change.remove ?? [] })}`;
}

/** One trust change as the fold judged it. */
export interface TrustChangeVerdict {
  event: EventLike;
  accepted: boolean;
  /** Why it was ignored, or null. */
  problem: string | null;
}

/** Pure: is this change signed by a key in `keys`, over the previous trust change? */
function judge(e: EventLike, keys: ReadonlyMap<string, TrustedKey>, prevTrustHash: string | null): string | null {
  if (keys.size === 0) return null; // the bootstrap
  const d = e.detail as TrustChangeDetail;
  const sig = d.signature;
  const trusted = [...keys.keys()].join(', ');
  if (!sig || typeof sig.publicKey !== 'string' || typeof sig.signature !== 'string')
    return `trust change is not signed, but ${e.app ?? 'the app'} already trusts ${trusted}: ignored`;
  let info;
  try {
    info = parsePublicKey(sig.publicKey);
  } catch {
    return 'trust change signature has an unreadable public key: ignored';
  }
  const holder = keys.get(info.keyId);
  if (!holder || holder.publicKey !== info.publicKey)
    return `trust change is signed by ${info.keyId}, which was not trusted then (trusted: ${trusted}): ignored`;
  const text = trustSigningText(e.app ?? '', prevTrustHash, { add: d.add, remove: d.remove });
  let ok = false;
  try {
    ok = verify(null, Buffer.from(text, 'utf8'), info.key, Buffer.from(sig.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok
    ? null
    : `trust change signature by ${info.keyId} does not verify (forged, or replayed from elsewhere): ignored`;
}

/** Pure: the fold, keeping every verdict (verify reports the refused ones). */
export function foldTrust(events: readonly EventLike[]): { policy: TrustedKey[]; verdicts: TrustChangeVerdict[] } {
  const keys = new Map<string, TrustedKey>();
  const verdicts: TrustChangeVerdict[] = [];
  let prevTrustHash: string | null = null;
  for (const e of events) {
    if (e.type !== 'trust-changed') continue;
    const problem = judge(e, keys, prevTrustHash);
    prevTrustHash = e.hash ?? null;
    verdicts.push({ event: e, accepted: problem === null, problem });
    if (problem) continue;
    const { add, remove } = e.detail as TrustChangeDetail;
    if (Array.isArray(remove)) for (const id of remove) if (typeof id === 'string') keys.delete(id);
    if (!Array.isArray(add)) continue;
    for (const k of add) {
      if (typeof k?.publicKey !== 'string' || typeof k.keyId !== 'string') continue;
      let derived: string;
      try {
        derived = parsePublicKey(k.publicKey).keyId;
      } catch {
        continue;
      }
      if (derived === k.keyId)
        keys.set(k.keyId, { keyId: k.keyId, publicKey: k.publicKey, addedBy: e.actor, addedAt: e.createdAt });
    }
  }
  return { policy: [...keys.values()].sort((a, b) => a.keyId.localeCompare(b.keyId)), verdicts };
}

/**
 * The trusted keys after `events` (oldest first), sorted by key id. An added key whose id does
 * not derive from its public key is skipped: the id is what people compare, and a mismatch
 * could only come from a forged or broken entry. Unsigned changes to a policy are ignored.
 */
export function trustPolicy(events: readonly EventLike[]): TrustedKey[] {
  return foldTrust(events).policy;
}

/** Pure: a verify problem for every trust change the fold ignored. */
export function trustChangeProblems(app: string, events: readonly EventLike[]): VerifyProblem[] {
  return foldTrust(events)
    .verdicts.filter((v) => !v.accepted)
    .map((v) => ({ app, kind: 'event' as const, seq: v.event.seq ?? 0, problem: v.problem ?? 'ignored' }));
}

/**
 * Pure: the event that adds `publicKey` or removes `keyId`, or null when it is already so.
 * Once `policy` is not empty, `signer` must be one of its keys; the change is signed over
 * `prevTrustHash` (the hash of the app's latest trust-changed event, null before the first).
 */
export function planTrustChange(
  policy: readonly TrustedKey[],
  change: { add: string } | { remove: string },
  actor: string,
  now: Date,
  sign?: { app: string; prevTrustHash: string | null; signer: Signer | null },
): NewEvent | null {
  let detail: TrustChangeDetail;
  if ('add' in change) {
    const key = parsePublicKey(change.add);
    if (policy.some((k) => k.keyId === key.keyId)) return null;
    detail = { add: [{ keyId: key.keyId, publicKey: key.publicKey }] };
  } else {
    if (!policy.some((k) => k.keyId === change.remove)) {
      throw invalidInput(
        'key_not_trusted',
        `${change.remove} is not a trusted key of this app`,
        '`brr trust list` shows the trusted keys',
      );
    }
    detail = { remove: [change.remove] };
  }
  const signer = sign?.signer ?? null;
  const trusted = policy.map((k) => k.keyId).join(', ');
  if (policy.length > 0 && !signer)
    throw invalidInput(
      'trust_change_unsigned',
      `changing the trust policy of ${sign?.app ?? 'this app'} needs a signature by a key it trusts (${trusted})`,
      `sign the change: --signing-key KEY.pem (or BRR_SIGNING_KEY=KEY.pem) with the private key of one of ${trusted}`,
    );
  if (policy.length > 0 && signer && !policy.some((k) => k.keyId === signer.keyId && k.publicKey === signer.publicKey))
    throw invalidInput(
      'trust_change_untrusted_signer',
      `${signer.keyId} is not trusted by ${sign?.app ?? 'this app'}, so it cannot change its trust policy (trusted: ${trusted})`,
      `sign with the private key of one of ${trusted}`,
    );
  if (signer && sign) {
    const text = trustSigningText(sign.app, sign.prevTrustHash, detail);
    detail.signature = {
      keyId: signer.keyId,
      publicKey: signer.publicKey,
      signature: cryptoSign(null, Buffer.from(text, 'utf8'), signer.privateKey).toString('base64'),
    };
  }
  return { type: 'trust-changed', release: null, detail: { ...detail }, actor, createdAt: now.toISOString() };
}

/**
 * Pure: the 'signed' events of each release id, oldest first, in one pass. Give a release's list
 * to releaseSignatures when checking many releases: filtering the whole log per release made
 * `brr verify` quadratic in the history (100,000 releases: minutes).
 */
export function signedEventsByRelease<E extends EventLike>(events: readonly E[]): Map<string, E[]> {
  const out = new Map<string, E[]>();
  for (const e of events) {
    if (e.type !== 'signed' || !e.release) continue;
    const list = out.get(e.release);
    if (list) list.push(e);
    else out.set(e.release, [e]);
  }
  return out;
}

/** Every 'signed' event of `release`, checked against its current hash, in ledger order. */
export function releaseSignatures(
  events: readonly EventLike[],
  release: Pick<Release, 'app' | 'id' | 'hash'>,
): SignatureCheck[] {
  return events
    .filter((e) => e.type === 'signed' && e.release === release.id)
    .map((e) => checkSignature(e.detail, release));
}

/** The first valid signature by a trusted key, or null. Public keys are compared, not just ids. */
export function trustedSignature(
  policy: readonly TrustedKey[],
  signatures: readonly SignatureCheck[],
): SignatureCheck | null {
  return (
    signatures.find((s) => s.valid && policy.some((k) => k.keyId === s.keyId && k.publicKey === s.publicKey)) ?? null
  );
}

/** How a release's signer is named to people: the first valid signer's key id, or "unsigned". */
export function signerName(signatures: readonly SignatureCheck[]): string {
  return signatures.find((s) => s.valid)?.keyId ?? 'unsigned';
}

/**
 * Refuses (BrrError 'release_untrusted') a release of an app with a trust policy that no
 * trusted key has validly signed. Used by the run stage before anything starts, and by
 * rollback preflight.
 */
export async function checkReleaseTrusted(ctx: { ledger: Ledger }, app: string, release: Release): Promise<void> {
  // By type, on the ledger's indexes: the trust changes, then the release's own signatures.
  const policy = trustPolicy(await ctx.ledger.listEventsOf(app, ['trust-changed']));
  if (policy.length === 0) return;
  assertReleaseTrusted(await ctx.ledger.listEventsOf(app, ['signed'], release.id), policy, app, release);
}

/** Pure: checkReleaseTrusted on an event log already read (and its policy already folded). */
export function assertReleaseTrusted(
  events: readonly EventLike[],
  policy: readonly TrustedKey[],
  app: string,
  release: Release,
): void {
  if (policy.length === 0) return;
  const signatures = releaseSignatures(events, release);
  if (trustedSignature(policy, signatures)) return;
  const signer = signatures.some((s) => s.valid)
    ? `signed only by untrusted ${signatures
        .filter((s) => s.valid)
        .map((s) => s.keyId)
        .join(', ')}`
    : 'unsigned';
  throw new BrrError(
    'release_untrusted',
    `${app} ${release.id} is not signed by a trusted key (${signer}); ${app} trusts ${policy.map((k) => k.keyId).join(', ')}`,
    {
      hint: `sign it with a trusted key (\`BRR_SIGNING_KEY=KEY.pem brr sign ${release.id} --app ${app}\`), or trust its signer (\`brr trust add --app ${app} PUBKEY\`)`,
      details: {
        app,
        release: release.id,
        signers: signatures.filter((s) => s.valid).map((s) => s.keyId),
        trusted: policy.map((k) => k.keyId),
      },
    },
  );
}

/**
 * `brr trust add/remove`: appends the change (nothing when it is already so); returns the new
 * policy. `signer` (default: the configured key) signs it; required once the app trusts a key.
 */
export async function changeTrust(
  ctx: { ledger: Ledger; actor: string; clock: { now(): Date } },
  app: string,
  change: { add: string } | { remove: string },
  signer: Signer | null = null,
): Promise<{ changed: boolean; policy: TrustedKey[] }> {
  // One read: the new policy is the fold of the trust changes read plus the event appended.
  const events = await ctx.ledger.listEventsOf(app, ['trust-changed']);
  const prevTrustHash = events.filter((e) => e.type === 'trust-changed').at(-1)?.hash ?? null;
  const event = planTrustChange(trustPolicy(events), change, ctx.actor, ctx.clock.now(), {
    app,
    prevTrustHash,
    signer,
  });
  if (!event) return { changed: false, policy: trustPolicy(events) };
  const appended = await ctx.ledger.appendEvent(app, event);
  return { changed: true, policy: trustPolicy([...events, appended]) };
}

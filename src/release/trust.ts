import { BrrError, invalidInput } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import type { Ledger, NewEvent } from '../ledger/ledger.js';
import { checkSignature, parsePublicKey, type SignatureCheck } from './signing.js';

/**
 * An app's trust policy: the public keys whose signature the run stage accepts. Like all state
 * it is a fold over append-only 'trust-changed' events, so who trusted which key, and when, is
 * part of the audited history. No trusted key = no policy: every release runs, as before.
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
}

type EventLike = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'>;

/**
 * The trusted keys after `events` (oldest first), sorted by key id. An added key whose id does
 * not derive from its public key is skipped: the id is what people compare, and a mismatch
 * could only come from a forged or broken entry.
 */
export function trustPolicy(events: readonly EventLike[]): TrustedKey[] {
  const keys = new Map<string, TrustedKey>();
  for (const e of events) {
    if (e.type !== 'trust-changed') continue;
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
  return [...keys.values()].sort((a, b) => a.keyId.localeCompare(b.keyId));
}

/** Pure: the event that adds `publicKey` or removes `keyId`, or null when it is already so. */
export function planTrustChange(
  policy: readonly TrustedKey[],
  change: { add: string } | { remove: string },
  actor: string,
  now: Date,
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
  return { type: 'trust-changed', release: null, detail: { ...detail }, actor, createdAt: now.toISOString() };
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
  const events = await ctx.ledger.listEvents(app);
  assertReleaseTrusted(events, trustPolicy(events), app, release);
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

/** `brr trust add/remove`: appends the change (nothing when it is already so); returns the new policy. */
export async function changeTrust(
  ctx: { ledger: Ledger; actor: string; clock: { now(): Date } },
  app: string,
  change: { add: string } | { remove: string },
): Promise<{ changed: boolean; policy: TrustedKey[] }> {
  // One read: the new policy is the fold of the log read plus the event appended.
  const events = await ctx.ledger.listEvents(app);
  const event = planTrustChange(trustPolicy(events), change, ctx.actor, ctx.clock.now());
  if (!event) return { changed: false, policy: trustPolicy(events) };
  const appended = await ctx.ledger.appendEvent(app, event);
  return { changed: true, policy: trustPolicy([...events, appended]) };
}

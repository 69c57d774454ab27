import { notFound } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import type { VerifyProblem, VerifyResult } from '../ledger/ledger.js';
import { checkSignature } from '../release/signing.js';
import {
  releaseSignatures,
  signedEventsByRelease,
  signerName,
  trustChangeProblems,
  trustPolicy,
  trustedSignature,
} from '../release/trust.js';
import type { Context } from './context.js';

/** Who signed one release, as `brr verify` reports it. */
export interface ReleaseSigners {
  app: string;
  release: string;
  seq: number;
  hash: string;
  /** The first valid signer's key id, or "unsigned". */
  signer: string;
  /** Every signature of the release, valid or not. */
  signatures: Array<{ keyId: string | null; valid: boolean; trusted: boolean; problem: string | null }>;
  /** Null when the app has no trust policy; else whether a trusted key signed it. */
  trusted: boolean | null;
}

export interface LedgerVerification extends VerifyResult {
  /** Per release, oldest first per app. */
  signers: ReleaseSigners[];
}

/**
 * `brr verify`: the driver's hash-chain and trigger check plus the home's witness (both through
 * ctx.ledger, a WitnessedLedger), every trust change (signed by a key trusted then, unless it is
 * the bootstrap), then every 'signed' event: its signature must
 * verify against its public key and cover the release's current hash, and it must name a
 * release that exists. Any failure is a problem (exit 1), reported on the signed event, since
 * that is the entry that lies; an unsigned release is reported, not a problem, because signing
 * is optional until an app has a trust policy.
 */
export async function verifyLedger(ctx: Context, app?: string): Promise<LedgerVerification> {
  const chain = await ctx.ledger.verify(app);
  // An app with no entry, no witnessed head and no release directory is a typo, not an intact history.
  if (app !== undefined && chain.releases === 0 && chain.events === 0 && !chain.problems.some((p) => p.app === app)) {
    const known = await ctx.ledger.listApps();
    throw notFound(
      'app_unknown',
      `no app ${JSON.stringify(app)} in the ledger: nothing to verify`,
      known.length > 0
        ? `apps in this ledger: ${known.join(', ')}; \`brr verify\` without --app checks them all`
        : 'this ledger holds no app yet; check --home / --ledger',
    );
  }
  const apps = app ? [app] : await ctx.ledger.listApps();
  const problems: VerifyProblem[] = [...chain.problems];
  const signers: ReleaseSigners[] = [];
  for (const a of apps) {
    const releases = (await ctx.ledger.listReleases(a)).reverse();
    const events = await ctx.ledger.listEvents(a);
    problems.push(...signatureProblems(a, releases, events), ...trustChangeProblems(a, events));
    const policy = trustPolicy(events);
    const signed = signedEventsByRelease(events);
    for (const r of releases) {
      const checks = releaseSignatures(signed.get(r.id) ?? [], r);
      const trustedOne = trustedSignature(policy, checks);
      signers.push({
        app: a,
        release: r.id,
        seq: r.seq,
        hash: r.hash,
        signer: trustedOne?.keyId ?? signerName(checks),
        signatures: checks.map((c) => ({
          keyId: c.keyId,
          valid: c.valid,
          trusted: c.valid && policy.some((k) => k.keyId === c.keyId && k.publicKey === c.publicKey),
          problem: c.problem,
        })),
        trusted: policy.length === 0 ? null : trustedOne !== null,
      });
    }
  }
  return { ...chain, ok: problems.length === 0, problems, signers };
}

/** Pure: a problem for every 'signed' event that does not hold for the release it names. */
export function signatureProblems(
  app: string,
  releases: readonly Release[],
  events: readonly LedgerEvent[],
): VerifyProblem[] {
  const byId = new Map(releases.map((r) => [r.id, r]));
  const out: VerifyProblem[] = [];
  for (const e of events) {
    if (e.type !== 'signed') continue;
    const release = e.release ? byId.get(e.release) : undefined;
    if (!release) {
      out.push({
        app,
        kind: 'event',
        seq: e.seq,
        problem: `signature for ${e.release ?? 'no release'}, which does not exist`,
      });
      continue;
    }
    const check = checkSignature(e.detail, release);
    if (!check.valid)
      out.push({ app, kind: 'event', seq: e.seq, problem: `${release.id}: ${check.problem ?? 'invalid signature'}` });
  }
  return out;
}

/**
 * Who signed each release, as the console's timeline shows it: the key id of a valid signature
 * (a trusted key's first, as `brr verify` names it), or null when unsigned; and whether a trusted
 * key signed it (null when the app has no trust policy). Read from the app's event log already
 * folded by the caller, so a page of releases costs no extra ledger read.
 */
import type { LedgerEvent, Release } from '../core/types.js';
import { releaseSignatures, signerName, trustedSignature, trustPolicy } from '../release/trust.js';

export interface ReleaseSigner {
  signer: string | null;
  trusted: boolean | null;
}

/** The signer of each of `releases`, by release id. */
export function releaseSigners(
  events: readonly LedgerEvent[],
  releases: readonly Pick<Release, 'app' | 'id' | 'hash'>[],
): Map<string, ReleaseSigner> {
  const policy = trustPolicy(events);
  const out = new Map<string, ReleaseSigner>();
  for (const r of releases) {
    const checks = releaseSignatures(events, r);
    const trustedOne = trustedSignature(policy, checks);
    const name = trustedOne?.keyId ?? signerName(checks);
    out.set(r.id, {
      signer: name === 'unsigned' ? null : name,
      trusted: policy.length === 0 ? null : trustedOne !== null,
    });
  }
  return out;
}

/**
 * Who signed each release, as the console's timeline shows it: the key id of a valid signature
 * (a trusted key's first, as `brr verify` names it), or null when unsigned; and whether a trusted
 * key signed it (null when the app has no trust policy). Read from the app's event index, so a
 * page of releases costs no read of the whole event log.
 */
import type { Release } from '../core/types.js';
import type { EventIndex } from './event-index.js';
import { releaseSignatures, signerName, trustedSignature, trustPolicy } from '../release/trust.js';

export interface ReleaseSigner {
  signer: string | null;
  trusted: boolean | null;
}

/**
 * The signer of each of `releases`, by release id, from the app's trust changes and its 'signed'
 * events by release (app/event-index.ts keeps both).
 */
export function releaseSigners(
  index: Pick<EventIndex, 'trust' | 'signed'>,
  releases: readonly Pick<Release, 'app' | 'id' | 'hash'>[],
): Map<string, ReleaseSigner> {
  const policy = trustPolicy(index.trust);
  const out = new Map<string, ReleaseSigner>();
  for (const r of releases) {
    const checks = releaseSignatures(index.signed.get(r.id) ?? [], r);
    const trustedOne = trustedSignature(policy, checks);
    const name = trustedOne?.keyId ?? signerName(checks);
    out.set(r.id, {
      signer: name === 'unsigned' ? null : name,
      trusted: policy.length === 0 ? null : trustedOne !== null,
    });
  }
  return out;
}

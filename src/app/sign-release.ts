import { readFileSync } from 'node:fs';
import path from 'node:path';
import { invalidInput } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import { loadSigner, signReleaseHash, type Signer } from '../release/signing.js';
import { parseReleaseId } from '../release/plan.js';
import { releaseSignatures } from '../release/trust.js';
import type { Context } from './context.js';
import type { Settings } from './settings.js';
import { findRelease } from './find-release.js';

/**
 * Signing releases with the configured key (Settings.signingKeyFile: `--signing-key`, else
 * BRR_SIGNING_KEY). Use-cases load the signer BEFORE appending, so a missing or broken key fails
 * the command before any release exists, and sign right after the append. A crash in between
 * leaves an unsigned release: a trust policy refuses it (safe) and `brr sign vN` fixes it.
 */

/** The configured signing key, or null when none is. Throws when one is named but unusable. */
export function configuredSigner(settings: Pick<Settings, 'signingKeyFile'>): Signer | null {
  const file = settings.signingKeyFile;
  if (!file) return null;
  let pem: string;
  try {
    pem = readFileSync(path.resolve(file), 'utf8');
  } catch (e) {
    throw invalidInput(
      'signing_key_unreadable',
      `cannot read the signing key ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      'point BRR_SIGNING_KEY (or --signing-key) at a PEM file from `brr keys generate`',
    );
  }
  return loadSigner(pem, file);
}

/** Appends a 'signed' event for `release` when a signer is configured; returns it, or null. */
export async function signRelease(
  ctx: Context,
  release: Release,
  signer: Signer | null = configuredSigner(ctx.settings),
): Promise<LedgerEvent | null> {
  if (!signer) return null;
  return ctx.ledger.appendEvent(release.app, {
    type: 'signed',
    release: release.id,
    detail: { ...signReleaseHash(signer, release) },
    actor: ctx.actor,
    createdAt: ctx.clock.now().toISOString(),
  });
}

export interface SignResult {
  app: string;
  release: string;
  hash: string;
  keyId: string;
  /** False when this key had already signed this release as it is now. */
  signed: boolean;
}

/** `brr sign vN`: signs an existing release (e.g. one a crash left unsigned) with the configured key. */
export async function signExisting(ctx: Context, app: string, id: string | undefined): Promise<SignResult> {
  const signer = configuredSigner(ctx.settings);
  if (!signer)
    throw invalidInput(
      'signing_key_missing',
      'no signing key is configured',
      'pass --signing-key FILE or set BRR_SIGNING_KEY (create a key with `brr keys generate`)',
    );
  const release = await findRelease(ctx, app, id === undefined ? undefined : parseReleaseId(id));
  const already = releaseSignatures(await ctx.ledger.listEventsOf(app, ['signed'], release.id), release).some(
    (s) => s.valid && s.keyId === signer.keyId,
  );
  if (!already) await signRelease(ctx, release, signer);
  return { app, release: release.id, hash: release.hash, keyId: signer.keyId, signed: !already };
}

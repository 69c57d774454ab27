/**
 * `brr trust add|remove|list`: the keys an app trusts. The rules (the fold, the planned change)
 * are in release/trust.ts; this file reads a key argument and applies the change to the ledger.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { invalidInput } from '../core/errors.js';
import { parsePublicKey } from '../release/signing.js';
import { changeTrust, trustPolicy, type TrustedKey } from '../release/trust.js';
import type { Context } from './context.js';
import { configuredSigner } from './sign-release.js';

export type { TrustedKey } from '../release/trust.js';

/**
 * `trust add` takes a key or a file holding one (PEM or base64). Base64 may contain '/', so a
 * missing file is only assumed when the argument is no key and looks like a file name.
 */
function readKeyArgument(arg: string): string {
  if (existsSync(arg) && statSync(arg).isFile()) return readFileSync(arg, 'utf8');
  try {
    parsePublicKey(arg);
  } catch (e) {
    if (/\.(pem|pub|key)$/.test(arg) || arg.startsWith('./') || arg.startsWith('../')) {
      throw invalidInput(
        'public_key_file_missing',
        `no such key file: ${arg}`,
        'pass a PEM file or the base64 public key `brr keys list` prints',
      );
    }
    throw e;
  }
  return arg;
}

/** `brr trust add KEY`: `key` is a public key (base64 raw or SPKI DER) or a PEM file. */
export function trustKey(ctx: Context, app: string, key: string): Promise<{ changed: boolean; policy: TrustedKey[] }> {
  return changeTrust(ctx, app, { add: readKeyArgument(key) }, configuredSigner(ctx.settings));
}

/** `brr trust remove KEYID`. */
export function untrustKey(
  ctx: Context,
  app: string,
  keyId: string,
): Promise<{ changed: boolean; policy: TrustedKey[] }> {
  return changeTrust(ctx, app, { remove: keyId }, configuredSigner(ctx.settings));
}

/** `brr trust list`: the app's trusted keys. */
export async function listTrustedKeys(ctx: Context, app: string): Promise<TrustedKey[]> {
  return trustPolicy(await ctx.ledger.listEventsOf(app, ['trust-changed']));
}

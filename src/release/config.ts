import { invalidInput } from '../core/errors.js';
import type { Config } from '../core/types.js';
import { openSecret, type SecretsKey } from './secrets.js';

/**
 * Deploy config: the only place where the user's words (`KEY=VALUE`) become config, and the
 * only two ways config leaves a release (redacted for humans, in full for processes).
 */

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The run stage sets these itself (systemd socket activation, brr's own variables). A release
 * that set them would silently break socket hand-over, so they are refused up front.
 */
const RESERVED_KEYS = new Set(['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']);
const RESERVED_PREFIX = 'BRR_';

/** The placeholder shown instead of a secret value. */
export const REDACTED = '<redacted>';

/**
 * Checks a config key: a portable environment variable name that brr does not reserve.
 * PORT is allowed on purpose (many apps read it). Throws invalidInput otherwise.
 */
export function validateConfigKey(key: string): void {
  if (!KEY_RE.test(key)) {
    throw invalidInput(
      'config_key_invalid',
      `config key ${JSON.stringify(key)} is not a valid environment variable name`,
      'use letters, digits and underscores, not starting with a digit (e.g. LOG_LEVEL)',
      { key },
    );
  }
  if (RESERVED_KEYS.has(key)) {
    throw invalidInput(
      'config_key_reserved',
      `config key ${key} is reserved: the run stage sets it to hand listening sockets to processes`,
      'declare ports under processes.<type>.ports in brr.yaml instead; brr passes them via LISTEN_FDS',
      { key },
    );
  }
  if (key.startsWith(RESERVED_PREFIX)) {
    throw invalidInput(
      'config_key_reserved',
      `config key ${key} is reserved: names starting with ${RESERVED_PREFIX} belong to brr itself`,
      `rename it without the ${RESERVED_PREFIX} prefix (e.g. ${key.slice(RESERVED_PREFIX.length) || 'MY_SETTING'})`,
      { key },
    );
  }
}

/**
 * Parses `KEY=VALUE` arguments. The value is everything after the first '=' (it may itself
 * contain '=' or be empty). Keys are validated; naming a key twice is refused because which
 * one was meant is a guess.
 */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      throw invalidInput(
        'config_assignment_invalid',
        `expected KEY=VALUE, got ${JSON.stringify(arg)}`,
        `write ${arg}=VALUE (quote the value if it contains spaces)`,
        { argument: arg },
      );
    }
    const key = arg.slice(0, eq);
    validateConfigKey(key);
    if (Object.hasOwn(out, key)) {
      throw invalidInput('config_key_repeated', `config key ${key} is given more than once`, `pass ${key}=VALUE once`, {
        key,
      });
    }
    out[key] = arg.slice(eq + 1);
  }
  return out;
}

/** Config for display and `--json`: secret values replaced by "<redacted>", keys sorted. */
export function redactConfig(config: Config): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(config).sort()) {
    const v = config[key];
    if (v) out[key] = v.secret ? REDACTED : v.value;
  }
  return out;
}

/**
 * Config as process environment, secrets decrypted with `secretsKey` (a sealed secret without
 * the right key throws 'secret_key_missing'/'secret_key_mismatch', naming the key, never the
 * value): hand it to processes, never print it. The caller loads the key (app/settings.ts).
 */
export function configEnv(config: Config, secretsKey: SecretsKey | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(config).sort()) {
    const v = config[name];
    if (!v) continue;
    out[name] = v.secret ? openSecret(secretsKey, name, v.value) : v.value;
  }
  return out;
}

/**
 * Settings: everything brr takes from flags and the environment, resolved ONCE at the edge
 * (flags > environment > defaults) into one typed value carried on the Context, so verbs and
 * use-cases never look at process.env (Helm passes one `Configuration` down the same way).
 *
 * Who reads process.env, and why (every other file below src/cli/ takes what it needs from
 * Settings or from its caller):
 *  - this file: `resolveSettings` is the one reader; the CLI calls it with its flags, and
 *    openContext calls it for library callers that pass no settings;
 *  - run/local/supervisor.ts and run/local/sockets.ts: the supervisor's own environment is the
 *    base its children's scrubbed environment is built from (PATH, HOME, LANG, TZ), and the
 *    socket-activated child inherits it minus NODE_OPTIONS;
 *  - build/checkout.ts, build/recipe.ts, build/dockerfile.ts: the build's child processes (git
 *    without GIT_*, the recipe's PATH, the container engine and BRR_CONTAINER_ENGINE);
 *  - registry/credentials.ts: where docker and podman keep registry logins (DOCKER_CONFIG,
 *    REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR), by those tools' conventions;
 *  - src/cli/: the edge itself (BRR_APP through app/resolve-app.ts, USER for the systemd unit).
 */
import type { SecretsKey } from '../release/secrets.js';
import { secretsKeyFromEnv } from '../release/secrets.js';
import { defaultActor } from '../release/actor.js';
import { resolveHome } from '../core/home.js';
import { resolveLedgerUrl } from '../ledger/ledger-url.js';
import path from 'node:path';

export interface Settings {
  /** The brr home: --home, BRR_HOME, $XDG_DATA_HOME/brr, ~/.local/share/brr. */
  home: string;
  /** A shared PostgreSQL ledger: --ledger, BRR_LEDGER_URL; undefined = the SQLite file in the home. */
  ledgerUrl: string | undefined;
  /** Who ledger entries are attributed to: BRR_ACTOR, else user@host. */
  actor: string;
  /** The key every release this command creates is signed with: --signing-key, BRR_SIGNING_KEY (absolute). */
  signingKeyFile: string | null;
  /**
   * Where the secrets key comes from: BRR_SECRETS_KEY (base64) or BRR_SECRETS_KEY_FILE. Kept as
   * a source, not a key: it is read when a secret needs it (see loadSecretsKey), so a command
   * without secrets never fails on a bad key and the supervisor picks up a rotated key file.
   */
  secretsKey: { key?: string; file?: string };
  /** The deploy lease's TTL as given (BRR_LEASE_TTL); validated when a lease is taken (see leaseTtlMs). */
  leaseTtl: string | undefined;
  /** PATH, HOME, LANG and TZ of the invoking process: the base environment of release-phase commands. */
  baseEnv: Record<string, string>;
  /**
   * Apps whose history may start over although this home witnessed an older one (the ledger was
   * emptied or replaced on purpose): BRR_NEW_HISTORY, comma-separated app names.
   */
  newHistory: string[];
}

/** The flags that override the environment. */
export interface SettingsFlags {
  home?: string;
  ledger?: string;
  signingKey?: string;
  actor?: string;
}

const BASE_ENV_KEYS = ['PATH', 'HOME', 'LANG', 'TZ'];

/** Resolves the settings: flags, then `env`, then defaults. The only reader of process.env for the app layer. */
export function resolveSettings(flags: SettingsFlags = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const signingKey = flags.signingKey ?? env.BRR_SIGNING_KEY;
  const baseEnv: Record<string, string> = {};
  for (const k of BASE_ENV_KEYS) if (env[k] !== undefined) baseEnv[k] = env[k] as string;
  return {
    home: resolveHome(flags.home, env),
    ledgerUrl: resolveLedgerUrl(flags.ledger, env),
    actor: flags.actor ?? defaultActor(env),
    signingKeyFile: signingKey ? path.resolve(signingKey) : null,
    secretsKey: { key: env.BRR_SECRETS_KEY, file: env.BRR_SECRETS_KEY_FILE },
    leaseTtl: env.BRR_LEASE_TTL,
    baseEnv,
    newHistory: (env.BRR_NEW_HISTORY ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
}

/** The secrets key source as the variables it came from (what release/secrets.ts reads and names in errors). */
export function secretsEnv(settings: Pick<Settings, 'secretsKey'>): {
  BRR_SECRETS_KEY?: string;
  BRR_SECRETS_KEY_FILE?: string;
} {
  return { BRR_SECRETS_KEY: settings.secretsKey.key, BRR_SECRETS_KEY_FILE: settings.secretsKey.file };
}

/** The secrets key the settings name, read now (a key file is read on every call), or null when none is. */
export function loadSecretsKey(settings: Pick<Settings, 'secretsKey'>): SecretsKey | null {
  return secretsKeyFromEnv(secretsEnv(settings));
}

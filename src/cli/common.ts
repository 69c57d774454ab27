/**
 * What every command file shares: the common flags (--home, --ledger, --app, --json, --wait,
 * --timeout), opening and closing the Context, and turning flags into a verb's options. The
 * CLI only parses and prints; verbs live in src/app.
 */
import type { Command } from 'commander';
import { BrrError } from '../core/errors.js';
import { parseDurationInput } from '../manifest/duration.js';
import type { Context } from '../app/context.js';
import { resolveSettings, type Settings } from '../app/settings.js';
import { homePaths, type HomePaths } from '../core/home.js';
import type { VerbOptions } from '../app/lease.js';
import { resolveApp } from '../app/resolve-app.js';
import { dim, info, yellow } from './output.js';

export interface CommonOpts {
  home?: string;
  ledger?: string;
  app?: string;
  json?: boolean;
  repo?: string;
  path?: string;
  /** The root's --signing-key, copied onto every command's options by the preAction hook in keys.ts. */
  signingKey?: string;
}

/** The edge: flags > environment > defaults, resolved once per command (see app/settings.ts). */
export function settingsOf(opts: CommonOpts): Settings {
  return resolveSettings({ home: opts.home, ledger: opts.ledger, signingKey: opts.signingKey }, process.env);
}

/** The home's paths, for commands that need no ledger (build, ps, logs, keys, push, pull). */
export function homeOf(opts: CommonOpts): HomePaths {
  return homePaths(settingsOf(opts).home);
}

/** Options every command takes. */
export function withCommon(cmd: Command, json = true): Command {
  cmd
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option(
      '--ledger <url>',
      'shared PostgreSQL ledger postgres://… (default $BRR_LEDGER_URL, else ledger.db in the home)',
    )
    .option('--app <name>', 'app (default $BRR_APP or app: in ./brr.yaml)');
  if (json) cmd.option('--json', 'print machine-readable JSON on stdout');
  return cmd;
}

/** Opens the context for a command and always closes it. */
export async function withContext<T>(opts: CommonOpts, fn: (ctx: Context) => Promise<T>): Promise<T> {
  // Loaded here, not at the top: commands without a ledger (ps, logs, keys, build) never load it.
  const { openContext } = await import('../app/context.js');
  const ctx = openContext({ settings: settingsOf(opts) });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export function appOf(opts: CommonOpts): string {
  return resolveApp({ app: opts.app, repo: opts.repo, path: opts.path }, process.env);
}

/**
 * The app named by `--app` or BRR_APP (checked as appOf does), else undefined: for commands that
 * attribute what they make to an app but can do without one (`brr build`, where brr.yaml may name
 * it, and `brr pull`).
 */
export function namedAppOf(opts: CommonOpts): string | undefined {
  return opts.app || process.env.BRR_APP ? appOf(opts) : undefined;
}

/** Runs a command action; main.ts maps thrown errors to exit codes. */
export type Action = (...args: never[]) => Promise<void>;

/** `--timeout DURATION` for commands that roll a release out (Kubernetes rollouts; local switches use brr.yaml's health timeout). */
export function timeoutFlag(cmd: Command): Command {
  return cmd.option(
    '--timeout <duration>',
    'how long a Kubernetes rollout may take before brr rolls back (default 5m)',
    (v: string) => parseDurationInput('--timeout', v, { minMs: 1, example: '--timeout 90s or --timeout 5m' }),
  );
}

export interface LeaseOpts extends CommonOpts {
  /** --wait, in ms. */
  wait?: number;
  /** --timeout, in ms (commands that roll out). */
  timeout?: number;
}

/** `--wait DURATION` for every command that takes the deploy lease. */
export function leaseFlag(cmd: Command): Command {
  return cmd.option(
    '--wait <duration>',
    'when another deploy of the app holds its lease, wait up to this long (e.g. 0, 30s, 5m); default 60s',
    (v: string) => parseDurationInput('--wait', v, { example: '--wait 30s or --wait 5m' }),
  );
}

/** A leased verb's options from the flags: --wait, and progress on stderr unless --json. */
export function verbOptions(opts: LeaseOpts, app: string): VerbOptions {
  return {
    lease: {
      waitMs: opts.wait,
      // Said even with --json (on stderr): taking a lease from a dead holder is worth knowing.
      onTakeOver: (gone) =>
        info(
          yellow(
            `took over ${app}'s deploy lease from ${gone.owner} (host ${gone.host}, pid ${gone.pid}): that process is gone (recorded as lease-taken-over)`,
          ),
        ),
      onWait: opts.json
        ? undefined
        : (l) =>
            info(
              dim(
                `waiting for ${app}'s deploy lease, held by ${l.owner} (host ${l.host}, pid ${l.pid}) until ${l.expiresAt}`,
              ),
            ),
    },
    onProgress: opts.json ? undefined : (l) => info(dim(l)),
    onStep: opts.json ? undefined : (l) => info(l),
  };
}

export function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new BrrError('usage', `${flag}: expected a positive whole number, got "${v}"`, { exitCode: 2 });
  return n;
}

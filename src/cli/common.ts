import type { Command } from 'commander';
import { parseDurationInput } from '../manifest/duration.js';
import { openContext, type Context } from '../app/context.js';
import { resolveApp } from '../app/resolve-app.js';

export interface CommonOpts {
  home?: string;
  ledger?: string;
  app?: string;
  json?: boolean;
  repo?: string;
  path?: string;
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
  const ctx = openContext({ home: opts.home, ledger: opts.ledger });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export function appOf(opts: CommonOpts): string {
  return resolveApp({ app: opts.app, repo: opts.repo, path: opts.path });
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

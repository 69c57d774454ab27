import type { Command } from 'commander';
import { openContext, type Context } from '../app/context.js';
import { resolveApp } from '../app/resolve-app.js';

export interface CommonOpts {
  home?: string;
  app?: string;
  json?: boolean;
  repo?: string;
  path?: string;
}

/** Options every command takes. */
export function withCommon(cmd: Command, json = true): Command {
  cmd.option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)').option('--app <name>', 'app (default $BRR_APP or app: in ./brr.yaml)');
  if (json) cmd.option('--json', 'print machine-readable JSON on stdout');
  return cmd;
}

/** Opens the context for a command and always closes it. */
export async function withContext<T>(opts: CommonOpts, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = openContext({ home: opts.home });
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

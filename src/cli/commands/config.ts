/** `brr config show|set|unset`: flags and output only; the verbs are in app/change-config.ts. */
import type { Command } from 'commander';
import { setConfig, unsetConfig, viewConfig, type ConfigVerbOptions } from '../../app/change-config.js';
import type { Context } from '../../app/context.js';
import { appOf, leaseFlag, verbOptions, withCommon, withContext, type CommonOpts, type LeaseOpts } from '../common.js';
import { escapeControl, info, switchNote, out, printJson } from '../output.js';

interface ChangeOpts extends LeaseOpts {
  secret?: boolean;
  run?: boolean;
}

type ConfigVerb = typeof setConfig;

async function applyChange(opts: ChangeOpts, verb: ConfigVerb, args: string[]) {
  const app = appOf(opts);
  const verbOpts: ConfigVerbOptions = { ...verbOptions(opts, app), secret: opts.secret, run: opts.run };
  const result = await withContext(opts, (ctx: Context) => verb(ctx, app, args, verbOpts));
  if (opts.json) {
    printJson({
      app,
      release: result.release?.id ?? null,
      staged: result.staged,
      ran: result.run !== null,
      hash: result.release?.hash ?? null,
    });
  } else if (result.staged) {
    out(`staged for ${app}'s first release`);
  } else if (!result.release) {
    out(`no change: ${app}'s config already has these values`);
  } else {
    out(
      `${app} ${result.release.id}: ${result.release.cause}${result.run ? ` — running (${switchNote(result.run)})` : ''}`,
    );
  }
}

export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description("show or change the app's config (each change makes a new release)");
  withCommon(
    config.command('show', { isDefault: true }).description('print the current config (secrets redacted)'),
  ).action(async (opts: CommonOpts) => {
    const app = appOf(opts);
    const view = await withContext(opts, (ctx) => viewConfig(ctx, app));
    const cfg = view.config;
    if (opts.json) return printJson(cfg);
    const keys = Object.keys(cfg).sort();
    if (keys.length === 0) out(`${app} has no config`);
    for (const k of keys) out(`${k}=${escapeControl(cfg[k]!)}`);
    // Where the values come from goes to stderr, so `brr config > .env` stays clean.
    if (view.newerNotRunning)
      info(
        `config of ${view.release}${view.running ? ', which runs' : ''}; ${view.newerNotRunning} is newer but not running (\`brr show ${view.newerNotRunning}\` shows its config)${view.changesBuildOn ? `; a config change builds on ${view.changesBuildOn}, which never ran` : ''}`,
      );
  });
  leaseFlag(
    withCommon(config.command('set').argument('<assignments...>', 'KEY=VALUE pairs').description('set config values')),
  )
    .option('--secret', 'store these values as secrets (shown as <redacted> everywhere)')
    .option('--no-run', 'only record the new release; do not run it even if the app is running')
    .action((assignments: string[], opts: ChangeOpts) => applyChange(opts, setConfig, assignments));
  leaseFlag(
    withCommon(config.command('unset').argument('<keys...>', 'keys to remove').description('remove config values')),
  )
    .option('--no-run', 'only record the new release; do not run it even if the app is running')
    .action((keys: string[], opts: ChangeOpts) => applyChange(opts, unsetConfig, keys));
}

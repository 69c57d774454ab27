import type { Command } from 'commander';
import { changeConfig, currentConfig } from '../../app/change-config.js';
import { runRelease } from '../../app/run-release.js';
import { redactConfig } from '../../release/config.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, info, out, printJson } from '../output.js';
import { leaseFlag, withAppLease, type LeaseOpts } from './lock.js';

interface ChangeOpts extends LeaseOpts {
  secret?: boolean;
  run?: boolean;
}

async function applyChange(opts: ChangeOpts, change: { set?: string[]; unset?: string[] }) {
  const app = appOf(opts);
  const result = await withAppLease(opts, app, async (ctx, { signal }) => {
    const r = await changeConfig(ctx, app, { ...change, secret: opts.secret });
    // Heroku semantics: a config change of a running app restarts it on the new release.
    const run =
      r.release && r.wasRunning && opts.run !== false
        ? await runRelease(ctx, app, r.release.id, opts.json ? () => {} : (l) => info(dim(l)), { signal })
        : null;
    return { ...r, run };
  });
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
      `${app} ${result.release.id}: ${result.release.cause}${result.run ? ` — running (switch took ${result.run.durationMs} ms)` : ''}`,
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
    const cfg = redactConfig(await withContext(opts, (ctx) => currentConfig(ctx, app)));
    if (opts.json) return printJson(cfg);
    const keys = Object.keys(cfg).sort();
    if (keys.length === 0) out(`${app} has no config`);
    for (const k of keys) out(`${k}=${cfg[k]}`);
  });
  leaseFlag(
    withCommon(config.command('set').argument('<assignments...>', 'KEY=VALUE pairs').description('set config values')),
  )
    .option('--secret', 'store these values as secrets (shown as <redacted> everywhere)')
    .option('--no-run', 'only record the new release; do not run it even if the app is running')
    .action((assignments: string[], opts: ChangeOpts) => applyChange(opts, { set: assignments }));
  leaseFlag(
    withCommon(config.command('unset').argument('<keys...>', 'keys to remove').description('remove config values')),
  )
    .option('--no-run', 'only record the new release; do not run it even if the app is running')
    .action((keys: string[], opts: ChangeOpts) => applyChange(opts, { unset: keys }));
}

/** `brr lock [--force]`: flags and output only; the verbs are in app/lease-lock.ts. */
import type { Command } from 'commander';
import { breakLock, showLock, type LockStatus } from '../../app/lease-lock.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { out, printJson, red, yellow } from '../output.js';

function render(s: LockStatus): void {
  const l = s.lease;
  if (!l) return out(`${s.app}: no deploy lease held`);
  const state = s.expired
    ? yellow('expired (the next deploy takes it over)', process.stdout)
    : s.holderAlive === false
      ? yellow('held by a process that is gone (the next deploy takes it over at once)', process.stdout)
      : red('held', process.stdout);
  out(`${s.app}: ${state}`);
  out(`  owner     ${l.owner}`);
  out(`  host      ${l.host}`);
  out(
    `  pid       ${l.pid}${s.holderAlive === false ? ' (not running on this host)' : s.holderAlive ? ' (running)' : ''}`,
  );
  out(`  token     ${l.token}`);
  out(`  acquired  ${l.acquiredAt}`);
  out(`  expires   ${l.expiresAt}`);
}

export function registerLockCommands(program: Command): void {
  withCommon(
    program.command('lock').description("show the app's deploy lease; --force breaks it (recorded in the ledger)"),
  )
    .option('--force', 'break the lease now, whoever holds it; the holder can write nothing more to the app')
    .action(async (opts: CommonOpts & { force?: boolean }) => {
      const app = appOf(opts);
      if (!opts.force) {
        const s = await withContext(opts, (ctx) => showLock(ctx, app));
        return opts.json ? printJson(s) : render(s);
      }
      const r = await withContext(opts, (ctx) => breakLock(ctx, app));
      if (opts.json)
        return printJson({
          app,
          broken: r.broken?.lease ?? null,
          expired: r.broken?.expired ?? null,
          eventSeq: r.eventSeq,
        });
      if (!r.broken?.lease) return out(`${app}: no deploy lease held; nothing to break`);
      const l = r.broken.lease;
      out(
        `${app}: broke the lease of ${l.owner} (host ${l.host}, pid ${l.pid}, token ${l.token}); recorded as event #${r.eventSeq}`,
      );
    });
}

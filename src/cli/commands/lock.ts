import type { Command } from 'commander';
import type { Context } from '../../app/context.js';
import { withLease, type HeldLease } from '../../app/lease.js';
import { breakLock, showLock, type LockStatus } from '../../app/lease-lock.js';
import { parseDurationInput } from '../../manifest/duration.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, info, out, printJson, red, yellow } from '../output.js';

export interface LeaseOpts extends CommonOpts {
  /** --wait, in ms. */
  wait?: number;
  /** --timeout, in ms (commands that roll out). */
  timeout?: number;
}

const DEFAULT_WAIT_MS = 60_000;

/** `--wait DURATION` for every command that takes the deploy lease. */
export function leaseFlag(cmd: Command): Command {
  return cmd.option(
    '--wait <duration>',
    'when another deploy of the app holds its lease, wait up to this long (e.g. 0, 30s, 5m); default 60s',
    (v: string) => parseDurationInput('--wait', v, { example: '--wait 30s or --wait 5m' }),
  );
}

/** Opens the context and runs `fn` holding the app's deploy lease (see app/lease.ts). */
export function withAppLease<T>(
  opts: LeaseOpts,
  app: string,
  fn: (ctx: Context, held: HeldLease) => Promise<T>,
): Promise<T> {
  return withContext(opts, (ctx) =>
    withLease(ctx, app, fn, {
      // Operators queue behind each other by default (each change is planned against the newest
      // release once it gets the lease, so nothing is lost); --wait 0 fails at once instead.
      waitMs: opts.wait ?? DEFAULT_WAIT_MS,
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
    }),
  );
}

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

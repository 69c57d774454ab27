import type { Command } from 'commander';
import { collectAudit, parseSince } from '../../app/audit.js';
import { promoteRelease } from '../../app/promote.js';
import { runRelease } from '../../app/run-release.js';
import { parseReleaseId } from '../../release/plan.js';
import { withContext, type CommonOpts } from '../common.js';
import { dim, info, out, printJson, shortDigest, table } from '../output.js';
import { leaseFlag, withAppLease, type LeaseOpts } from './lock.js';

interface AuditOpts extends CommonOpts {
  since?: string;
  actor?: string;
}

interface PromoteOpts extends LeaseOpts {
  from: string;
  to: string;
  run?: boolean;
  message?: string;
}

/** `brr audit` and `brr promote`. */
export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description('who did what, when: releases and events of every app, oldest first (secret values never shown)')
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--app <name>', 'only this app (default: all apps)')
    .option('--since <when>', 'only entries since an ISO date/time or a duration ago (24h, 7d)')
    .option('--actor <who>', 'only entries by this actor (user@host, or a user on any host)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action(async (opts: AuditOpts) => {
      const entries = await withContext(opts, (ctx) =>
        collectAudit(ctx, {
          app: opts.app,
          actor: opts.actor,
          since: opts.since === undefined ? undefined : parseSince(opts.since, ctx.clock.now()),
        }),
      );
      if (opts.json) return printJson(entries);
      if (entries.length === 0) return out('nothing recorded matches');
      const rows = entries.map((e) => [e.at, e.app, e.actor, e.action, e.release ?? '-', e.summary]);
      table(['TIME', 'APP', 'ACTOR', 'ACTION', 'RELEASE', 'DETAIL'], rows).forEach((l) => out(l));
    });

  leaseFlag(program.command('promote'))
    .argument('[release]', "source release (default: the source app's current release)")
    .description("release the same build digest on another app, with that app's own config")
    .requiredOption('--from <app>', 'app to promote from (e.g. upf-staging)')
    .requiredOption('--to <app>', 'app to promote to (e.g. upf-prod)')
    .option('--run', 'run the new release on the target app')
    .option('-m, --message <text>', 'note recorded with the release')
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action(async (id: string | undefined, opts: PromoteOpts) => {
      // The target's deploy lease, like any write to its ledger (and its run).
      const result = await withAppLease(opts, opts.to, async (ctx, { signal }) => {
        const p = await promoteRelease(ctx, {
          fromApp: opts.from,
          toApp: opts.to,
          release: id === undefined ? undefined : parseReleaseId(id),
          message: opts.message,
        });
        if (!opts.json) info(`released ${opts.to} ${p.release.id} (${p.release.cause})`);
        const run = opts.run
          ? await runRelease(ctx, opts.to, p.release.id, opts.json ? () => {} : (l) => info(dim(l)), { signal })
          : null;
        return { ...p, run };
      });
      const r = result.release;
      if (opts.json) {
        return printJson({
          app: opts.to,
          id: r.id,
          seq: r.seq,
          build: r.build.digest,
          hash: r.hash,
          cause: r.cause,
          from: result.from,
          ran: result.run !== null,
          durationMs: result.run?.durationMs ?? null,
        });
      }
      out(
        `${opts.to} ${r.id}: ${r.cause} (${shortDigest(r.build.digest)})${result.run ? ` — running (switch took ${result.run.durationMs} ms)` : `; run it with \`brr run ${r.id} --app ${opts.to}\``}`,
      );
    });
}

/** `brr audit` and `brr promote`: flags and output only; the verbs are app/audit.ts and app/promote.ts. */
import type { Command } from 'commander';
import { collectAudit, parseSince } from '../../app/audit.js';
import { promoteApp } from '../../app/promote.js';
import { leaseFlag, verbOptions, withContext, type CommonOpts, type LeaseOpts } from '../common.js';
import { out, printJson, shortDigest, switchNote, table } from '../output.js';

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
      const result = await withContext(opts, (ctx) =>
        promoteApp(ctx, {
          ...verbOptions(opts, opts.to),
          fromApp: opts.from,
          toApp: opts.to,
          release: id,
          message: opts.message,
          run: opts.run,
        }),
      );
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
        `${opts.to} ${r.id}: ${r.cause} (${shortDigest(r.build.digest)})${result.run ? ` — running (${switchNote(result.run)})` : `; run it with \`brr run ${r.id} --app ${opts.to}\``}`,
      );
    });
}

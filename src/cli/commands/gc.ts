/** `brr gc`: flags and output only; the verb is app/gc.ts. */
import type { Command } from 'commander';
import { collectGarbage, DEFAULT_KEEP, type GcReport } from '../../app/gc.js';
import { positiveInt, withContext, type CommonOpts } from '../common.js';
import { dim, humanBytes, out, printJson, shortDigest } from '../output.js';

interface GcOpts extends CommonOpts {
  keep: number;
  dryRun?: boolean;
}

function render(r: GcReport): void {
  const verb = r.dryRun ? 'would remove' : 'removed';
  for (const a of r.apps) {
    const kept = a.retained.map((x) => `${x.id} (${x.reasons.join(', ')})`).join(', ') || 'none';
    out(`${a.app}: keeps ${kept}`);
    if (a.removedDirs.length > 0) out(`  ${verb} release dirs ${a.removedDirs.join(', ')}`);
  }
  for (const b of r.builds.removed)
    out(`${verb} build ${shortDigest(b.digest)} (${b.app ?? '-'}, commit ${b.commit.slice(0, 12)})`);
  if (r.blobs.removed > 0) out(`${verb} ${r.blobs.removed} blob(s) no kept image needs`);
  if (r.temp.length > 0) out(`${verb} ${r.temp.length} stray temp file(s)`);
  for (const app of r.unknownApps) out(dim(`left alone: releases/${app} (app unknown to the ledger)`, process.stdout));
  for (const app of r.busyApps)
    out(dim(`left alone: releases/${app} (a deploy holds its lease; run gc again later)`, process.stdout));
  out(
    `${r.dryRun ? 'would free' : 'freed'} ${humanBytes(r.bytesFreed)}; ${r.builds.retained.length} build(s) kept; the ledger is untouched`,
  );
}

/** `brr gc`. */
export function registerGcCommands(program: Command): void {
  program
    .command('gc')
    .description(
      'remove release dirs and store blobs no retained release needs (never the current, the previous healthy, or the last N; never ledger entries)',
    )
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--app <name>', "only this app's release dirs and builds (default: all apps)")
    .option('--keep <n>', 'newest releases to keep per app', (v) => positiveInt(v, '--keep'), DEFAULT_KEEP)
    .option('--dry-run', 'only say what would be removed')
    .option('--json', 'print machine-readable JSON on stdout')
    .action(async (opts: GcOpts) => {
      const report = await withContext(opts, (ctx) =>
        collectGarbage(ctx, { keep: opts.keep, dryRun: opts.dryRun, app: opts.app }),
      );
      if (opts.json) printJson(report);
      else render(report);
    });
}

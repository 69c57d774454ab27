/** `brr check [vN] [--json]`: flags and output only; the checks live in app/check.ts and run/kubernetes/check.ts. */
import type { Command } from 'commander';
import { checkRelease, essentialFailed } from '../../app/check.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { out, printJson, table } from '../output.js';

export function registerCheckCommands(program: Command): void {
  withCommon(
    program
      .command('check')
      .argument('[release]', 'release id (default: the newest release)')
      .description(
        "CNTi test-suite static checks of a release's Kubernetes objects (exit 1 when an essential one fails)",
      ),
  ).action(async (id: string | undefined, opts: CommonOpts) => {
    const app = appOf(opts);
    const report = await withContext(opts, (ctx) => checkRelease(ctx, app, id));
    if (opts.json) printJson(report);
    else {
      table(
        ['CHECK', 'CATEGORY', 'OBJECT', 'RESULT', 'FIX'],
        report.results.map((r) => [
          r.check,
          r.category,
          r.object,
          r.detail ? `${r.result}: ${r.detail}` : r.result,
          r.fix ?? '',
        ]),
      ).forEach((l) => out(l));
    }
    if (report.essentialFailed > 0) throw essentialFailed(report);
  });
}

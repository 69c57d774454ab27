/** `brr build`, `brr builds` and `brr deploy`: flags and output only; the verbs are app/builds.ts and app/deploy.ts. */
import type { Command } from 'commander';
import { buildApp, listAppBuilds } from '../../app/builds.js';
import { deployApp } from '../../app/deploy.js';
import {
  appOf,
  homeOf,
  leaseFlag,
  namedAppOf,
  timeoutFlag,
  verbOptions,
  withCommon,
  withContext,
  type CommonOpts,
  type LeaseOpts,
} from '../common.js';
import { dim, humanBytes, info, out, printJson, shortDigest, switchNote, table, warn } from '../output.js';

interface BuildOpts extends CommonOpts {
  ref?: string;
  cache?: boolean;
}

function buildFlags(cmd: Command): Command {
  return cmd
    .option('--repo <dir>', 'git repository to build', '.')
    .option('--path <subdir>', 'subdirectory of the repository to build (monorepos)')
    .option('--ref <ref>', 'commit, branch or tag to build', 'HEAD')
    .option('--no-cache', 'rebuild even when this commit was built before (same digest expected)');
}

const buildArgs = (opts: BuildOpts) => ({
  repo: opts.repo,
  path: opts.path,
  ref: opts.ref,
  noCache: opts.cache === false,
  onWarn: warn,
});

export function registerBuildCommands(program: Command): void {
  buildFlags(
    withCommon(program.command('build').description('build a commit into an OCI image in the local store')),
  ).action(async (opts: BuildOpts) => {
    const r = await buildApp(homeOf(opts), {
      ...buildArgs(opts),
      app: namedAppOf(opts),
      onProgress: opts.json ? undefined : (line) => info(dim(line)),
    });
    if (opts.json)
      printJson({
        digest: r.digest,
        commit: r.commit,
        cached: r.cached,
        app: r.record.app,
        ref: r.record.ref,
        size: r.record.size,
      });
    else out(`${r.digest}${r.cached ? dim(' (cached)', process.stdout) : ''}`);
  });

  withCommon(program.command('builds').description('list builds in the local store')).action(
    async (opts: CommonOpts) => {
      const shown = await listAppBuilds(homeOf(opts), opts.app);
      if (opts.json) return printJson(shown);
      if (shown.length === 0) return out('no builds yet: run `brr build` in a git repository');
      const rows = shown.map((b) => [
        shortDigest(b.digest),
        b.commit.slice(0, 12),
        b.app ?? '-',
        humanBytes(b.size),
        b.createdAt,
        b.ref,
      ]);
      table(['DIGEST', 'COMMIT', 'APP', 'SIZE', 'CREATED', 'REF'], rows).forEach((l) => out(l));
    },
  );

  timeoutFlag(
    leaseFlag(buildFlags(withCommon(program.command('deploy').description('build, release and run in one step')))),
  )
    .option('-m, --message <text>', 'note recorded with the release')
    .option('--force', 'release and run even when this build already runs as the newest release')
    .action(async (opts: BuildOpts & LeaseOpts & { message?: string; force?: boolean }) => {
      const app = opts.app ?? appOf(opts);
      const { built, release, run, unchanged } = await withContext(opts, (ctx) =>
        deployApp(ctx, app, {
          ...buildArgs(opts),
          ...verbOptions(opts, app),
          message: opts.message,
          timeoutMs: opts.timeout,
          force: opts.force,
        }),
      );
      if (opts.json) {
        printJson({
          app,
          digest: built.digest,
          commit: built.commit,
          cached: built.cached,
          release: release.id,
          durationMs: run.durationMs,
          releasePhase: run.releasePhase,
          unchanged,
        });
      } else if (unchanged)
        out(
          `nothing to deploy: ${app} ${release.id} already has build ${shortDigest(built.digest)} and this config${run.alreadyRunning ? ' and runs' : `; it runs again (${switchNote(run)})`} (\`brr deploy --force\` releases it again)`,
        );
      else out(`${app} ${release.id} is running (${switchNote(run)})`);
    });
}

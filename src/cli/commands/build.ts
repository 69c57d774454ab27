import path from 'node:path';
import type { Command } from 'commander';
import { buildImage } from '../../build/build.js';
import { listBuilds } from '../../store/builds.js';
import { homePaths, resolveHome } from '../../core/home.js';
import { createRelease } from '../../app/create-release.js';
import { runRelease } from '../../app/run-release.js';
import { appOf, timeoutFlag, withCommon, type CommonOpts } from '../common.js';
import { dim, humanBytes, info, out, printJson, shortDigest, table, warn } from '../output.js';
import { leaseFlag, withAppLease, type LeaseOpts } from './lock.js';

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

async function doBuild(opts: BuildOpts, quiet: boolean) {
  const paths = homePaths(resolveHome(opts.home));
  const result = await buildImage({
    paths,
    repo: path.resolve(opts.repo ?? '.'),
    path: opts.path,
    ref: opts.ref,
    noCache: opts.cache === false,
    app: opts.app,
    progress: quiet ? undefined : (line) => info(dim(line)),
  });
  if (result.dirty) warn('the work tree has uncommitted changes; they are NOT in this build (brr builds commits only)');
  return result;
}

export function registerBuildCommands(program: Command): void {
  buildFlags(
    withCommon(program.command('build').description('build a commit into an OCI image in the local store')),
  ).action(async (opts: BuildOpts) => {
    const r = await doBuild(opts, Boolean(opts.json));
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
      const builds = await listBuilds(homePaths(resolveHome(opts.home)));
      const shown = opts.app ? builds.filter((b) => b.app === opts.app) : builds;
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

  // The lease is taken before the build: a second operator learns at once that a deploy is
  // under way, instead of after minutes of building.
  timeoutFlag(
    leaseFlag(buildFlags(withCommon(program.command('deploy').description('build, release and run in one step')))),
  )
    .option('-m, --message <text>', 'note recorded with the release')
    .action(async (opts: BuildOpts & LeaseOpts & { message?: string }) => {
      const app = opts.app ?? appOf(opts);
      const result = await withAppLease(opts, app, async (ctx, { signal }) => {
        const built = await doBuild({ ...opts, app }, Boolean(opts.json));
        if (!opts.json) info(`built ${built.digest}${built.cached ? ' (cached)' : ''}`);
        signal.throwIfAborted();
        const rel = await createRelease(ctx, app, { build: built.digest, message: opts.message });
        if (!opts.json) info(`released ${app} ${rel.id}`);
        const run = await runRelease(ctx, app, rel.id, opts.json ? () => {} : (l) => info(dim(l)), {
          signal,
          timeoutMs: opts.timeout,
        });
        return { built, rel, run };
      });
      const { built } = result;
      if (opts.json) {
        printJson({
          app,
          digest: built.digest,
          commit: built.commit,
          cached: built.cached,
          release: result.rel.id,
          durationMs: result.run.durationMs,
          releasePhase: result.run.releasePhase,
        });
      } else out(`${app} ${result.rel.id} is running (switch took ${result.run.durationMs} ms)`);
    });
}

import type { Command } from 'commander';
import { BrrError } from '../../core/errors.js';
import type { Release } from '../../core/types.js';
import { createRelease } from '../../app/create-release.js';
import { appendRollback } from '../../app/rollback.js';
import { findRelease, runRelease } from '../../app/run-release.js';
import { verifyLedger } from '../../app/verify-ledger.js';
import { buildStatus } from '../../app/preflight.js';
import { filterReleases, parseSince } from '../../app/audit.js';
import { redactConfig } from '../../release/config.js';
import { diffReleases, renderDiff } from '../../release/diff.js';
import { parseReleaseId } from '../../release/plan.js';
import { currentReleaseId } from '../../release/state.js';
import { appOf, timeoutFlag, withCommon, withContext, type CommonOpts } from '../common.js';
import { bold, dim, green, info, out, printJson, red, shortDigest, table, warn } from '../output.js';
import { leaseFlag, withAppLease, type LeaseOpts } from './lock.js';

/** A release as shown to people and scripts: secrets redacted. */
export function publicRelease(r: Release, currentId: string | null) {
  return {
    ...r,
    config: redactConfig(r.config),
    secretKeys: Object.keys(r.config)
      .filter((k) => r.config[k]!.secret)
      .sort(),
    current: r.id === currentId,
  };
}

export function registerReleaseCommands(program: Command): void {
  leaseFlag(
    withCommon(
      program.command('release').description("combine a build with the app's current config into a new release vN"),
    ),
  )
    .option('--build <digest>', 'build digest, unique prefix, or "latest" (default: newest build of the app)')
    .option('-m, --message <text>', 'note recorded with the release')
    .action(async (opts: LeaseOpts & { build?: string; message?: string }) => {
      const app = appOf(opts);
      const rel = await withAppLease(opts, app, (ctx) => createRelease(ctx, app, opts));
      if (opts.json)
        printJson({ id: rel.id, seq: rel.seq, build: rel.build.digest, commit: rel.build.commit, hash: rel.hash, app });
      else out(`${app} ${rel.id} ${dim(`(${shortDigest(rel.build.digest)}, ${rel.cause})`, process.stdout)}`);
    });

  withCommon(program.command('releases').description('release history, newest first'))
    .option('--limit <n>', 'show at most N releases', (v) => positiveInt(v, '--limit'), 50)
    .option('--actor <who>', 'only releases by this actor (`alice` matches alice@any-host)')
    .option('--since <when>', 'only releases since an ISO time or a duration ago (24h, 7d)')
    .action(async (opts: CommonOpts & { limit: number; actor?: string; since?: string }) => {
      const app = appOf(opts);
      const { releases, current } = await withContext(opts, async (ctx) => {
        const filtered = Boolean(opts.actor || opts.since);
        const since = opts.since ? parseSince(opts.since, ctx.clock.now()) : undefined;
        // With a filter the limit applies to what matches, so read the whole history.
        const all = await ctx.ledger.listReleases(app, filtered ? {} : { limit: opts.limit });
        return {
          releases: filtered ? filterReleases(all, { actor: opts.actor, since }).slice(0, opts.limit) : all,
          current: currentReleaseId(await ctx.ledger.listEvents(app)),
        };
      });
      if (opts.json) return printJson(releases.map((r) => publicRelease(r, current)));
      if (releases.length === 0) return out(`${app} has no releases yet: run \`brr release\` or \`brr deploy\``);
      const rows = releases.map((r) => [
        r.id === current ? `${r.id}*` : r.id,
        shortDigest(r.build.digest),
        r.build.commit.slice(0, 7),
        r.cause,
        r.actor,
        r.createdAt,
      ]);
      table(['ID', 'BUILD', 'COMMIT', 'CAUSE', 'ACTOR', 'CREATED'], rows).forEach((l) => out(l));
      if (current) out(dim(`* current release (what runs)`, process.stdout));
    });

  withCommon(
    program
      .command('show')
      .argument('<release>', 'release id, e.g. v3')
      .description('show one release in full (secrets redacted)'),
  ).action(async (id: string, opts: CommonOpts) => {
    const app = appOf(opts);
    const { rel, current, build } = await withContext(opts, async (ctx) => {
      const rel = await findRelease(ctx, app, parseReleaseId(id));
      return {
        rel,
        current: currentReleaseId(await ctx.ledger.listEvents(app)),
        build: await buildStatus(ctx.paths, rel),
      };
    });
    const pub = publicRelease(rel, current);
    if (opts.json) return printJson({ ...pub, buildPresent: build.present });
    out(`${bold(`${app} ${rel.id}`, process.stdout)}${pub.current ? ' (current)' : ''}`);
    out(`  build     ${rel.build.digest}${build.present ? '' : ' (COLLECTED: not in the local store)'}`);
    out(`  commit    ${rel.build.commit}`);
    out(`  cause     ${rel.cause}${rel.message ? ` — ${rel.message}` : ''}`);
    out(`  actor     ${rel.actor}`);
    out(`  created   ${rel.createdAt}`);
    out(
      `  formation ${
        Object.entries(rel.formation)
          .map(([t, n]) => `${t}=${n}`)
          .join(' ') || '-'
      }`,
    );
    out(`  hash      ${rel.hash}`);
    out(`  prevHash  ${rel.prevHash ?? '-'}`);
    out('  config');
    const keys = Object.keys(pub.config).sort();
    if (keys.length === 0) out('    (none)');
    for (const k of keys) out(`    ${k}=${pub.config[k]}`);
    if (!build.present) warn(`${build.message}\n  ${build.hint}`);
  });

  withCommon(
    program
      .command('diff')
      .argument('<from>')
      .argument('<to>')
      .description('what changed between two releases (secret values never shown)'),
  ).action(async (a: string, b: string, opts: CommonOpts) => {
    const app = appOf(opts);
    const [ra, rb] = await withContext(opts, async (ctx) => [
      await findRelease(ctx, app, parseReleaseId(a)),
      await findRelease(ctx, app, parseReleaseId(b)),
    ]);
    const d = diffReleases(ra!, rb!);
    if (opts.json) return printJson(d);
    renderDiff(d).forEach((l) => out(l));
  });

  timeoutFlag(
    leaseFlag(
      withCommon(
        program
          .command('rollback')
          .argument('[release]', 'release to go back to (default: the one before the current)')
          .description("append a release copying an old one's build and config, and run it"),
      ),
    ),
  ).action(async (id: string | undefined, opts: LeaseOpts) => {
    const app = appOf(opts);
    const { rel, run } = await withAppLease(opts, app, async (ctx, { signal }) => {
      const rel = await appendRollback(ctx, app, id === undefined ? undefined : parseReleaseId(id));
      if (!opts.json) info(`released ${app} ${rel.id} (${rel.cause})`);
      const run = await runRelease(ctx, app, rel.id, opts.json ? () => {} : (l) => info(dim(l)), {
        signal,
        timeoutMs: opts.timeout,
      });
      return { rel, run };
    });
    if (opts.json)
      printJson({
        id: rel.id,
        seq: rel.seq,
        rollbackOf: rel.rollbackOf,
        build: rel.build.digest,
        hash: rel.hash,
        durationMs: run.durationMs,
      });
    else out(`${app} ${rel.id} is running: ${rel.cause} (switch took ${run.durationMs} ms)`);
  });

  withCommon(
    program
      .command('verify')
      .description(
        "recompute the ledger's hash chains and check signatures; name each release's signer; exit 1 naming bad entries",
      ),
  ).action(async (opts: CommonOpts) => {
    const result = await withContext(opts, (ctx) => verifyLedger(ctx, opts.app));
    if (opts.json) printJson(result);
    else {
      if (result.ok)
        out(
          `${green('ok', process.stdout)}: ledger intact (${result.releases} releases, ${result.events} events verified, ${result.signers.filter((s) => s.signer !== 'unsigned').length} signed)`,
        );
      for (const p of result.problems)
        out(`${red('TAMPERED', process.stdout)}: ${p.app} ${p.kind} #${p.seq}: ${p.problem}`);
      const trust = (t: boolean | null) => (t === null ? '' : t ? 'trusted' : red('NOT TRUSTED', process.stdout));
      const rows = result.signers.map((s) => [s.app, s.release, s.signer, trust(s.trusted)]);
      if (rows.length > 0) table(['APP', 'RELEASE', 'SIGNER', 'TRUST'], rows).forEach((l) => out(l));
    }
    if (!result.ok) {
      throw new BrrError(
        'ledger_tampered',
        `the ledger failed verification (${new Set(result.problems.map((p) => p.app)).size} app(s) affected)`,
        {
          hint: 'find out who changed ledger.db outside brr and restore it from a backup; do not trust releases from it until it verifies',
        },
      );
    }
  });
}

export function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new BrrError('usage', `${flag}: expected a positive whole number, got "${v}"`, { exitCode: 2 });
  return n;
}

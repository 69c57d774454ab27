/**
 * `brr release`, `releases`, `show`, `diff`, `rollback` and `verify`: flags and output only; the
 * verbs are in app/ (create-release, releases, rollback, verify-ledger).
 */
import type { Command } from 'commander';
import { BrrError } from '../../core/errors.js';
import { diffAppReleases, listAppReleases, showRelease } from '../../app/releases.js';
import {
  appOf,
  leaseFlag,
  positiveInt,
  timeoutFlag,
  verbOptions,
  withCommon,
  withContext,
  type CommonOpts,
  type LeaseOpts,
} from '../common.js';
import {
  bold,
  dim,
  escapeControl,
  switchNote,
  green,
  out,
  printJson,
  red,
  shortDigest,
  table,
  warn,
} from '../output.js';

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
      const { releaseApp } = await import('../../app/create-release.js'); // store and lease code, only here
      const rel = await withContext(opts, (ctx) =>
        releaseApp(ctx, app, { build: opts.build, message: opts.message, lease: verbOptions(opts, app).lease }),
      );
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
      const { releases, current } = await withContext(opts, (ctx) =>
        listAppReleases(ctx, app, { limit: opts.limit, actor: opts.actor, since: opts.since }),
      );
      if (opts.json) return printJson(releases);
      if (releases.length === 0) return out(`${app} has no releases yet: run \`brr release\` or \`brr deploy\``);
      const rows = releases.map((r) => [
        r.current ? `${r.id}*` : r.id,
        shortDigest(r.build.digest),
        r.build.commit.slice(0, 7),
        r.cause,
        r.actor,
        r.createdAt,
      ]);
      table(['ID', 'BUILD', 'COMMIT', 'CAUSE', 'ACTOR', 'CREATED'], rows).forEach((l) => out(l));
      // The footer explains a `*` that is there; a current release left out by --limit/--since is named instead.
      if (releases.some((r) => r.current)) out(dim(`* current release (what runs)`, process.stdout));
      else if (current) out(dim(`current release: ${current} (not listed)`, process.stdout));
    });

  withCommon(
    program
      .command('show')
      .argument('<release>', 'release id, e.g. v3')
      .description('show one release in full (secrets redacted)'),
  ).action(async (id: string, opts: CommonOpts) => {
    const app = appOf(opts);
    const { release: pub, build } = await withContext(opts, (ctx) => showRelease(ctx, app, id));
    if (opts.json) return printJson({ ...pub, buildPresent: build.present });
    out(`${bold(`${app} ${pub.id}`, process.stdout)}${pub.current ? ' (current)' : ''}`);
    out(`  build     ${pub.build.digest}${build.present ? '' : ' (COLLECTED: not in the local store)'}`);
    out(`  commit    ${pub.build.commit}`);
    out(`  cause     ${escapeControl(pub.cause)}${pub.message ? ` — ${escapeControl(pub.message)}` : ''}`);
    out(`  actor     ${pub.actor}`);
    out(`  created   ${pub.createdAt}`);
    out(
      `  formation ${
        Object.entries(pub.formation)
          .map(([t, n]) => `${t}=${n}`)
          .join(' ') || '-'
      }`,
    );
    out(`  hash      ${pub.hash}`);
    out(`  prevHash  ${pub.prevHash ?? '-'}`);
    out('  config');
    const keys = Object.keys(pub.config).sort();
    if (keys.length === 0) out('    (none)');
    for (const k of keys) out(`    ${k}=${escapeControl(pub.config[k]!)}`);
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
    const { diff, lines } = await withContext(opts, (ctx) => diffAppReleases(ctx, app, a, b));
    if (opts.json) return printJson(diff);
    lines.forEach((l) => out(l));
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
    const { rollbackApp } = await import('../../app/rollback.js'); // the run machinery, only here
    const { release: rel, run } = await withContext(opts, (ctx) =>
      rollbackApp(ctx, app, id, { ...verbOptions(opts, app), timeoutMs: opts.timeout }),
    );
    if (opts.json)
      printJson({
        id: rel.id,
        seq: rel.seq,
        rollbackOf: rel.rollbackOf,
        build: rel.build.digest,
        hash: rel.hash,
        durationMs: run.durationMs,
      });
    else out(`${app} ${rel.id} is running: ${rel.cause} (${switchNote(run)})`);
  });

  withCommon(
    program
      .command('verify')
      .description(
        "recompute the ledger's hash chains and check signatures; name each release's signer; exit 1 naming bad entries",
      ),
  ).action(async (opts: CommonOpts) => {
    const { verifyLedger } = await import('../../app/verify-ledger.js');
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

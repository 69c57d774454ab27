import type { Command } from 'commander';
import { runRelease } from '../../app/run-release.js';
import { openContext } from '../../app/context.js';
import { supervisorDeps } from '../../app/supervisor-deps.js';
import { appStatus, describeWriteFaults, supervisorProblems } from '../../app/status.js';
import { renderSystemdUnit } from '../../app/systemd-unit.js';
import { BrrError } from '../../core/errors.js';
import { homePaths, resolveHome } from '../../core/home.js';
import { parseReleaseId } from '../../release/plan.js';
import { connectSupervisor } from '../../run/local/client.js';
import { followLogs, tailLogs } from '../../run/local/log-reader.js';
import { runSupervisor, type SupervisorProblems } from '../../run/local/supervisor.js';
import { fdLineLogger, WriteFaults } from '../../run/local/write-faults.js';
import type { ProcessInfo } from '../../run/types.js';
import { appOf, timeoutFlag, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, green, humanDuration, info, out, printJson, red, table } from '../output.js';
import { positiveInt } from './release.js';
import { leaseFlag, withAppLease, type LeaseOpts } from './lock.js';

export function registerRunCommands(program: Command): void {
  timeoutFlag(
    leaseFlag(
      withCommon(
        program
          .command('run')
          .argument('[release]', 'release id (default: the newest release)')
          .description('make a release current and run it under the supervisor'),
      ),
    ),
  ).action(async (id: string | undefined, opts: LeaseOpts) => {
    const app = appOf(opts);
    const r = await withAppLease(opts, app, (ctx, { signal }) =>
      runRelease(
        ctx,
        app,
        id === undefined ? undefined : parseReleaseId(id),
        opts.json ? () => {} : (l) => info(dim(l)),
        { signal, timeoutMs: opts.timeout },
      ),
    );
    if (opts.json) printJson(r);
    else out(`${app} ${r.release} is running (switch took ${r.durationMs} ms)`);
  });

  withCommon(program.command('ps').description('processes of each app under the supervisor')).action(
    async (opts: CommonOpts) => {
      const client = await connectSupervisor(homePaths(resolveHome(opts.home)));
      if (!client) {
        if (opts.json) return printJson([]);
        return out('the supervisor is not running: start it with `brr run` or `brr supervise`');
      }
      let rows: ProcessInfo[];
      let problems: SupervisorProblems | null;
      try {
        rows = (await client.request('ps', opts.app ? { app: opts.app } : {})) as ProcessInfo[];
        problems = await supervisorProblems(client);
      } finally {
        client.close();
      }
      const strays = (problems?.strays ?? []).filter((s) => !opts.app || s.app === opts.app);
      if (opts.json) return printJson(rows);
      for (const w of describeWriteFaults(problems)) info(red(`warning: ${w}`));
      for (const s of strays)
        info(red(`stray: pid ${s.pid} of ${s.app ?? '?'} ${s.release ?? '?'} is not supervised (found by ${s.via})`));
      if (rows.length === 0) return out('no processes');
      const exit = (p: ProcessInfo) => (p.lastExit ? (p.lastExit.signal ?? `exit ${p.lastExit.code}`) : '-');
      const data = rows.map((p) => [
        p.app,
        p.release,
        `${p.type}.${p.index}`,
        String(p.pid ?? '-'),
        p.state,
        String(p.restarts),
        humanDuration(p.uptimeMs),
        exit(p),
      ]);
      table(['APP', 'RELEASE', 'PROCESS', 'PID', 'STATE', 'RESTARTS', 'UPTIME', 'LAST EXIT'], data).forEach((l) =>
        out(l),
      );
    },
  );

  withCommon(program.command('logs').description('process output, prefixed with type and index'), false)
    .option('-f, --follow', 'keep printing new output (across restarts and switches)')
    .option('--process <type>', 'only this process type')
    .option('-n, --lines <n>', 'lines of history per process', (v) => positiveInt(v, '--lines'), 50)
    .action(async (opts: CommonOpts & { follow?: boolean; process?: string; lines: number }) => {
      const app = appOf(opts);
      const logs = homePaths(resolveHome(opts.home)).logs;
      const print = (source: string, line: string) => out(`${dim(source.padEnd(8), process.stdout)} | ${line}`);
      if (!opts.follow) {
        for (const l of await tailLogs(logs, app, { processType: opts.process, lines: opts.lines }))
          print(l.source, l.line);
        return;
      }
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      await followLogs(logs, app, { processType: opts.process, lines: opts.lines, onLine: print, signal: ac.signal });
    });

  withCommon(
    program
      .command('status')
      .description("per app: the ledger's current release vs what actually runs; exit 1 when they differ"),
  ).action(async (opts: CommonOpts) => {
    const rows = await withContext(opts, (ctx) => appStatus(ctx, opts.app));
    if (opts.json) printJson(rows);
    else if (rows.length === 0) out('no apps have been run yet');
    else {
      const data = rows.map((r) => [
        r.app,
        r.ledger ?? '-',
        r.running ?? '-',
        r.inSync ? green('in sync', process.stdout) : red(r.problem ?? 'drift', process.stdout),
      ]);
      table(['APP', 'LEDGER', 'RUNNING', 'STATE'], data).forEach((l) => out(l));
      for (const w of new Set(rows.flatMap((r) => r.warnings ?? []))) info(red(`warning: ${w}`));
    }
    if (rows.some((r) => !r.inSync)) {
      throw new BrrError('status_drift', 'what runs differs from the ledger', {
        hint: 'run `brr run` for the app, or `brr supervise` if the supervisor is down; see `brr ps` and `brr logs`',
      });
    }
  });

  withCommon(program.command('shutdown').description('stop the supervisor and all processes gracefully'), false).action(
    async (opts: CommonOpts) => {
      const client = await connectSupervisor(homePaths(resolveHome(opts.home)));
      if (!client) return out('the supervisor is not running');
      try {
        await client.request('shutdown', {});
      } finally {
        client.close();
      }
      out('supervisor stopped; every app stays current in the ledger and comes back with `brr supervise` or `brr run`');
    },
  );

  withCommon(
    program.command('supervise').description('run the supervisor in the foreground (for systemd or a container)'),
    false,
  )
    .option('--systemd-unit', 'print a systemd unit that runs the supervisor for this home, and exit')
    .action(async (opts: CommonOpts & { systemdUnit?: boolean }) => {
      if (opts.systemdUnit)
        return out(
          renderSystemdUnit({ home: resolveHome(opts.home), node: process.execPath, user: process.env.USER ?? 'root' }),
        );
      const ctx = openContext({ home: opts.home, ledger: opts.ledger });
      try {
        // stderr is usually supervisor.log: a full disk must cost log lines, never the supervisor.
        const writeFaults = new WriteFaults();
        const log = fdLineLogger(2, writeFaults, 'supervisor log (stderr)');
        await runSupervisor(supervisorDeps(ctx.paths, ctx.ledger, ctx.clock, ctx.actor, log), { writeFaults });
      } finally {
        await ctx.close();
      }
      // Children, sockets and timers are gone; nothing must keep a supervisor-less process alive.
      process.exit(0);
    });
}

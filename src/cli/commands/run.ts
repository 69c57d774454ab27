/**
 * `brr run`, `ps`, `logs`, `status`, `shutdown` and `supervise`: flags and output only; the
 * verbs are app/run-release.ts, app/processes.ts, app/logs.ts and app/status.ts.
 */
import type { Command } from 'commander';
import { followAppLogs, readAppLogs } from '../../app/logs.js';
import {
  explainNoProcesses,
  listProcessesAndProblems,
  openSupervisorLog,
  stopSupervisor,
  superviseHome,
  type ProcessInfo,
} from '../../app/processes.js';
import { appStatus, describeWriteFaults } from '../../app/status.js';
import { renderSystemdUnit } from '../../app/systemd-unit.js';
import { BrrError } from '../../core/errors.js';
import {
  appOf,
  homeOf,
  leaseFlag,
  positiveInt,
  settingsOf,
  timeoutFlag,
  verbOptions,
  withCommon,
  withContext,
  type CommonOpts,
  type LeaseOpts,
} from '../common.js';
import {
  dim,
  escapeControl,
  switchNote,
  green,
  humanDuration,
  info,
  out,
  printJson,
  red,
  reportError,
  table,
} from '../output.js';

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
    const { runApp } = await import('../../app/run-release.js'); // the run machinery, only here
    const r = await withContext(opts, (ctx) =>
      runApp(ctx, app, id, { ...verbOptions(opts, app), timeoutMs: opts.timeout }),
    );
    if (opts.json) printJson(r);
    else out(`${app} ${r.release} is running (${switchNote(r)})`);
  });

  withCommon(program.command('ps').description('processes of each app under the supervisor')).action(
    async (opts: CommonOpts) => {
      const listed = await listProcessesAndProblems(homeOf(opts), opts.app);
      if (!listed) {
        if (opts.json) return printJson([]);
        return out('the supervisor is not running: start it with `brr run` or `brr supervise`');
      }
      const { rows, problems, strays } = listed;
      if (opts.json) return printJson(rows);
      for (const w of describeWriteFaults(problems)) info(red(`warning: ${w}`));
      for (const s of strays)
        info(red(`stray: pid ${s.pid} of ${s.app ?? '?'} ${s.release ?? '?'} is not supervised (found by ${s.via})`));
      if (rows.length === 0)
        return out(opts.app ? await withContext(opts, (ctx) => explainNoProcesses(ctx, opts.app!)) : 'no processes');
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
    .option('--raw', 'print process output as written, control characters and ANSI escapes included')
    .action(async (opts: CommonOpts & { follow?: boolean; process?: string; lines: number; raw?: boolean }) => {
      const app = appOf(opts);
      const paths = homeOf(opts);
      const print = (source: string, line: string) =>
        out(`${dim(source.padEnd(8), process.stdout)} | ${opts.raw ? line : escapeControl(line)}`);
      if (!opts.follow) {
        for (const l of await readAppLogs(paths, app, { processType: opts.process, lines: opts.lines }))
          print(l.source, l.line);
        return;
      }
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      await followAppLogs(paths, app, {
        processType: opts.process,
        lines: opts.lines,
        onLine: print,
        signal: ac.signal,
      });
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
      if (!(await stopSupervisor(homeOf(opts)))) return out('the supervisor is not running');
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
          renderSystemdUnit({ home: settingsOf(opts).home, node: process.execPath, user: process.env.USER ?? 'root' }),
        );
      // First, before the ledger is opened: from here every exit says why in the supervisor's log.
      const log = await openSupervisorLog(2, { lastWords: true });
      try {
        await withContext(opts, (ctx) => superviseHome(ctx, log));
      } catch (e) {
        process.exitCode = reportError(e, false);
      }
      // Children, sockets and timers are gone; nothing must keep a supervisor-less process alive.
      process.exit();
    });
}

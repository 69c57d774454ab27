/** `brr ledger export|import`: flags, files and output; the verbs are in app/ledger-transfer.ts. */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { BrrError } from '../../core/errors.js';
import { exportApps, importApps, type ExportedApp } from '../../app/ledger-transfer.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { info, out, printJson, warn } from '../output.js';

interface ExportOpts extends CommonOpts {
  out?: string;
  all?: boolean;
}

/** Writes with back-pressure, so a 100,000-release export never piles up in memory. */
async function writeLine(stream: Writable, line: string): Promise<void> {
  if (!stream.write(`${line}\n`))
    await new Promise<void>((resolve, reject) => {
      stream.once('drain', resolve);
      stream.once('error', reject);
    });
}

function fileError(e: unknown, file: string, verb: string): BrrError {
  const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
  return new BrrError('ledger_export_io', `cannot ${verb} ${file} (${code})`, {
    exitCode: code === 'ENOENT' ? 2 : 1,
    hint: 'check the path and its permissions',
  });
}

/**
 * Writes the export to `file` through a temp file renamed at the end, so a failed export never
 * leaves a plausible-looking partial file. Owner-only: release config may hold secrets.
 */
async function exportToFile(file: string, lines: AsyncIterable<string>): Promise<void> {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  let stream: fs.WriteStream | undefined;
  try {
    stream = fs.createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
    await new Promise<void>((resolve, reject) => stream!.once('open', () => resolve()).once('error', reject));
    for await (const line of lines) await writeLine(stream, line);
    await new Promise<void>((resolve, reject) => stream!.end((err?: Error | null) => (err ? reject(err) : resolve())));
    fs.renameSync(tmp, file);
  } catch (e) {
    stream?.destroy();
    fs.rmSync(tmp, { force: true });
    throw e instanceof BrrError ? e : fileError(e, file, 'write');
  }
}

function reportExport(summary: ExportedApp[], where: string, json: boolean | undefined, toStdout: boolean): void {
  for (const s of summary) {
    for (const p of s.problems)
      warn(`${s.app} ${p.kind} #${p.seq}: ${p.problem} (this export will not import until the ledger verifies)`);
  }
  if (toStdout) {
    for (const s of summary) info(`exported ${s.app}: ${s.releases} releases, ${s.events} events`);
    return;
  }
  if (json)
    printJson({
      file: where,
      apps: summary.map(({ app, releases, events, problems }) => ({
        app,
        releases,
        events,
        ok: problems.length === 0,
      })),
    });
  else for (const s of summary) out(`exported ${s.app}: ${s.releases} releases, ${s.events} events → ${where}`);
}

/** `brr ledger export` and `brr ledger import`: an app's history as JSON Lines with hashes. */
export function registerLedgerCommands(program: Command): void {
  const ledger = program
    .command('ledger')
    .description('move app histories between ledgers (e.g. SQLite → PostgreSQL) as verified JSON Lines');

  withCommon(
    ledger
      .command('export')
      .description("write an app's releases and events, with hashes, as JSON Lines (stdout unless --out)"),
  )
    .option('--out <file>', 'write to this file (owner-only; it may hold secrets) instead of stdout')
    .option('--all', 'export every app in the ledger')
    .action(async (opts: ExportOpts) => {
      let summary: ExportedApp[] = [];
      await withContext(opts, async (ctx) => {
        const lines = exportApps(ctx, opts.all ? { all: true } : { apps: [appOf(opts)] }, (s) => (summary = s));
        if (opts.out === undefined || opts.out === '-')
          for await (const line of lines) await writeLine(process.stdout, line);
        else await exportToFile(opts.out, lines);
      });
      reportExport(summary, opts.out ?? '-', opts.json, opts.out === undefined || opts.out === '-');
      if (summary.some((s) => s.problems.length > 0)) {
        throw new BrrError('ledger_tampered', 'the exported history failed verification', {
          hint: 'run `brr verify`; restore the ledger from a backup before moving it',
        });
      }
    });

  withCommon(
    ledger
      .command('import')
      .argument('<file>', 'JSON Lines written by `brr ledger export` (- for stdin)')
      .description(
        'verify an export (hashes and links from v1) and add it to apps with no history yet, in one transaction',
      ),
  ).action(async (file: string, opts: CommonOpts) => {
    const input =
      file === '-'
        ? process.stdin
        : (
            await fs.promises.open(file).catch((e: unknown) => {
              throw fileError(e, file, 'read');
            })
          ).createReadStream();
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    // --app filters the file; it does not fall back to brr.yaml: an import takes the file's apps.
    const apps = await withContext(opts, (ctx) => importApps(ctx, lines, { app: opts.app }));
    if (opts.json) printJson({ file, apps });
    else for (const a of apps) out(`imported ${a.app}: ${a.releases} releases, ${a.events} events (chain verified)`);
  });
}

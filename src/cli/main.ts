/**
 * The CLI's entry: the root command, the exit-code mapping, and the signal handlers. Command
 * modules are loaded lazily through cli/command-table.ts so a command pays only for its own
 * imports (issue 13: read-only commands start near `node -e 0`).
 */
import { Command, CommanderError } from 'commander';
import { holdsLeases, interruptMessage, releaseOnInterrupt } from '../app/interrupt.js';
import { brrVersion } from '../core/version.js';
import { exitQuietlyOnBrokenPipe, reportError } from './output.js';
import { registersFor } from './command-table.js';

/** Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 130 interrupted. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('brr')
    .description('build · release · run for cloud-native network functions')
    .version(brrVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Global: any command that creates releases signs them with this key. The hook copies it onto
  // the command's own options, where settingsOf() resolves it above BRR_SIGNING_KEY.
  program.option(
    '--signing-key <file>',
    'sign every release this command creates with this Ed25519 key (default $BRR_SIGNING_KEY)',
  );
  program.hook('preAction', (root, action) => {
    const file = (root.opts() as { signingKey?: string }).signingKey;
    if (file && action !== root) action.setOptionValue('signingKey', file);
  });
  // Only the module of the command being run is loaded (cli/command-table.ts).
  for (const register of await registersFor(argv.slice(2))) register(program);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return 0;
      return 2;
    }
    return reportError(e, argv.includes('--json'));
  }
}

/**
 * Ctrl-C (130) and SIGTERM (143) first give back the deploy leases this CLI holds and say what
 * the supervisor does with a switch already asked for (app/interrupt.ts); a second signal exits
 * at once. SIGTERM is left to its other listeners (the foreground supervisor, `brr logs -f`)
 * when no lease is held.
 */
let interrupted = false;
function onSignal(exitCode: number, othersHandle: boolean): void {
  if (interrupted) process.exit(exitCode);
  if (!holdsLeases() && othersHandle) return;
  interrupted = true;
  void releaseOnInterrupt()
    .then((notes) => {
      for (const n of notes) process.stderr.write(`${interruptMessage(n)}\n`);
    })
    .finally(() => process.exit(exitCode));
}
exitQuietlyOnBrokenPipe();
process.on('SIGINT', () => onSignal(130, false));
process.on('SIGTERM', () => onSignal(143, process.listenerCount('SIGTERM') > 1));
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e, false);
  },
);

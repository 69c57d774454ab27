import { Command, CommanderError } from 'commander';
import { holdsLeases, interruptMessage, releaseOnInterrupt } from '../app/interrupt.js';
import { brrVersion } from '../core/version.js';
import { exitQuietlyOnBrokenPipe, reportError } from './output.js';
import { registerBuildCommands } from './commands/build.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerConfigCommands } from './commands/config.js';
import { registerRunCommands } from './commands/run.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerKubernetesCommands } from './commands/kubernetes.js';
import { registerLedgerCommands } from './commands/ledger.js';
import { registerLockCommands } from './commands/lock.js';
import { registerGcCommands } from './commands/gc.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerRegistryCommands } from './commands/registry.js';
import { registerCheckCommands } from './commands/check.js';

/** Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 130 interrupted. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('brr')
    .description('build · release · run for cloud-native network functions')
    .version(brrVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBuildCommands(program);
  registerReleaseCommands(program);
  registerConfigCommands(program);
  registerRunCommands(program);
  registerKeyCommands(program);
  registerKubernetesCommands(program);
  registerLedgerCommands(program);
  registerLockCommands(program);
  registerGcCommands(program);
  registerAuditCommands(program);
  registerRegistryCommands(program);
  registerCheckCommands(program);
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

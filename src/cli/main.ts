import { Command, CommanderError } from 'commander';
import { brrVersion } from '../core/version.js';
import { reportError } from './output.js';
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

process.on('SIGINT', () => process.exit(130));
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e, false);
  },
);

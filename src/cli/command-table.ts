/**
 * Which module registers which top-level command. main.ts imports only the module of the command
 * being run, so `brr releases` never loads the build, registry or Kubernetes code that other
 * commands need (start-up near `node -e 0`, issue 13). `brr --help`, `brr help` and unknown
 * commands load every module in this order, so the listing and suggestions stay exactly as
 * commander prints them. A new command file must be added here (test/cli/startup-modules.test.ts
 * checks the names against what each module registers).
 */
import type { Command } from 'commander';

export interface CommandModule {
  /** Top-level command names the module registers. */
  names: readonly string[];
  load: () => Promise<(program: Command) => void>;
}

export const commandTable: readonly CommandModule[] = [
  {
    names: ['build', 'builds', 'deploy'],
    load: async () => (await import('./commands/build.js')).registerBuildCommands,
  },
  {
    names: ['release', 'releases', 'show', 'diff', 'rollback', 'verify'],
    load: async () => (await import('./commands/release.js')).registerReleaseCommands,
  },
  { names: ['config'], load: async () => (await import('./commands/config.js')).registerConfigCommands },
  {
    names: ['run', 'ps', 'logs', 'status', 'shutdown', 'supervise'],
    load: async () => (await import('./commands/run.js')).registerRunCommands,
  },
  { names: ['keys', 'sign', 'trust'], load: async () => (await import('./commands/keys.js')).registerKeyCommands },
  {
    names: ['apps', 'render'],
    load: async () => (await import('./commands/kubernetes.js')).registerKubernetesCommands,
  },
  { names: ['ledger'], load: async () => (await import('./commands/ledger.js')).registerLedgerCommands },
  { names: ['lock'], load: async () => (await import('./commands/lock.js')).registerLockCommands },
  { names: ['gc'], load: async () => (await import('./commands/gc.js')).registerGcCommands },
  { names: ['audit', 'promote'], load: async () => (await import('./commands/audit.js')).registerAuditCommands },
  { names: ['push', 'pull'], load: async () => (await import('./commands/registry.js')).registerRegistryCommands },
  { names: ['check'], load: async () => (await import('./commands/check.js')).registerCheckCommands },
  { names: ['hooks'], load: async () => (await import('./commands/hooks.js')).registerHooksCommands },
  { names: ['tokens', 'serve'], load: async () => (await import('./commands/serve.js')).registerServeCommands },
];

/**
 * Root options that take a value (skipped when looking for the command name). bin/brr.js finds
 * the command the same way, from the copy scripts/bundle.mjs writes to dist/bundles/commands.json.
 */
export const ROOT_VALUE_OPTIONS: ReadonlySet<string> = new Set(['--signing-key']);

/** The command named on the command line: the first argument that is not a root option or its value. */
export function commandNameOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (ROOT_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

/**
 * The register functions for a command line: the one module that owns the named command, or
 * every module (in table order) when no known command is named — help, `help CMD`, typos —
 * and none for `brr --version`.
 */
export async function registersFor(args: readonly string[]): Promise<((program: Command) => void)[]> {
  const name = commandNameOf(args);
  // `brr --version` needs no command at all.
  if (
    name === undefined &&
    args.some((a) => a === '-V' || a === '--version') &&
    !args.some((a) => a === '-h' || a === '--help')
  )
    return [];
  const owner = name === undefined ? undefined : commandTable.find((m) => m.names.includes(name));
  return Promise.all((owner ? [owner] : commandTable).map((m) => m.load()));
}

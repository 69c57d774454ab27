import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import { describeEnd, runCommand, shellArgv } from '../core/run-command.js';
import { removeTree } from '../store/remove-tree.js';

/**
 * Runs the build recipe (`build.command` of brr.yaml) in the clean checkout. The environment is
 * rebuilt from nothing: whatever the caller has exported (deploy config, tokens, a stray
 * NODE_ENV) must not reach the build, or the same commit could build differently.
 */

export interface RecipeOptions {
  /** The clean checkout (working directory of every command). */
  dir: string;
  commands: string[];
  /** Commit time, seconds: SOURCE_DATE_EPOCH. */
  commitTime: number;
  /** The build log; created (or appended to). */
  logFile: string;
  /** Where the throw-away HOME is created. */
  tmpRoot: string;
  progress?: (line: string) => void;
}

/** Lines of output kept for the error message. */
const TAIL_LINES = 20;

/** The only environment a build command sees. */
export function recipeEnv(
  home: string,
  commitTime: number,
  pathVar: string = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
): Record<string, string> {
  return { PATH: pathVar, HOME: home, LANG: 'C.UTF-8', TZ: 'UTC', CI: 'true', SOURCE_DATE_EPOCH: String(commitTime) };
}

/** Runs every command in order; the first failure stops the build with `build_failed`. */
export async function runRecipe(opts: RecipeOptions): Promise<void> {
  const home = await mkdtemp(path.join(opts.tmpRoot, 'build-home-'));
  try {
    const env = recipeEnv(home, opts.commitTime);
    for (const command of opts.commands) {
      opts.progress?.(`$ ${command}`);
      const r = await runCommand({
        argv: shellArgv(command),
        cwd: opts.dir,
        env,
        logFile: opts.logFile,
        header: `$ ${command}`,
        footer: (r) => (r.exitCode === 0 ? undefined : `brr: build command ${describeEnd(r)}`),
        tailLines: TAIL_LINES,
        onLine: opts.progress,
      });
      if (r.exitCode === 0) continue;
      const how = describeEnd(r);
      throw new BrrError(
        'build_failed',
        `build command "${command}" ${how}; last lines of the build log:\n${r.lastLines.join('\n')}`,
        {
          exitCode: 1,
          hint: `read the full build log: ${opts.logFile}`,
          details: { command, exitCode: r.exitCode, signal: r.signal, logFile: opts.logFile, lastLines: r.lastLines },
        },
      );
    }
  } finally {
    await removeTree(home);
  }
}

import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
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

/** The only environment a build command sees. */
export function recipeEnv(
  home: string,
  commitTime: number,
  pathVar: string = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
): Record<string, string> {
  return { PATH: pathVar, HOME: home, LANG: 'C.UTF-8', TZ: 'UTC', CI: 'true', SOURCE_DATE_EPOCH: String(commitTime) };
}

/** Lines of the build output, the last `keep` of them remembered for the error message. */
class LineTail {
  readonly lines: string[] = [];
  private partial = new Map<string, string>();
  constructor(
    private readonly keep: number,
    private readonly progress?: (line: string) => void,
  ) {}
  push(stream: string, chunk: Buffer): void {
    const text = (this.partial.get(stream) ?? '') + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial.set(stream, parts.pop()!);
    parts.forEach((l) => this.line(l));
  }
  end(): void {
    for (const rest of this.partial.values()) if (rest !== '') this.line(rest);
    this.partial.clear();
  }
  line(l: string): void {
    this.lines.push(l);
    if (this.lines.length > this.keep) this.lines.shift();
    this.progress?.(l);
  }
}

function runOne(command: string, opts: RecipeOptions, env: Record<string, string>, log: WriteStream, tail: LineTail) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd: opts.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (name: string) => (c: Buffer) => {
      log.write(c);
      tail.push(name, c);
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      tail.end();
      resolve({ code, signal });
    });
  });
}

/** Runs every command in order; the first failure stops the build with `build_failed`. */
export async function runRecipe(opts: RecipeOptions): Promise<void> {
  const home = await mkdtemp(path.join(opts.tmpRoot, 'build-home-'));
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const tail = new LineTail(20, opts.progress);
  try {
    const env = recipeEnv(home, opts.commitTime);
    for (const command of opts.commands) {
      log.write(`$ ${command}\n`);
      tail.line(`$ ${command}`);
      const { code, signal } = await runOne(command, opts, env, log, tail);
      if (code === 0) continue;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      log.write(`brr: build command ${how}\n`);
      throw new BrrError(
        'build_failed',
        `build command "${command}" ${how}; last lines of the build log:\n${tail.lines.join('\n')}`,
        {
          exitCode: 1,
          hint: `read the full build log: ${opts.logFile}`,
          details: { command, exitCode: code, signal, logFile: opts.logFile, lastLines: [...tail.lines] },
        },
      );
    }
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
    await removeTree(home);
  }
}

import { fileURLToPath } from 'node:url';
import type { HomePaths } from '../core/home.js';

/** The command line that starts this brr's supervisor for a home, in the background. */
export function supervisorArgv(paths: HomePaths): string[] {
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  return [process.execPath, main, 'supervise', '--home', paths.root];
}

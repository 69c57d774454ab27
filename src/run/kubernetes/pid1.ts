/**
 * What runs as PID 1 of a rendered container, as data. PID 1 gets no default signal handlers and
 * inherits every orphan, so it must be an init (CNTi's specialized_init_system, sig_term_handled,
 * zombie_handled): the image's tini or dumb-init, with the process's command under it. A command
 * without shell syntax runs in exec form (no shell in between to swallow SIGTERM); one with shell
 * syntax runs under `/bin/sh -c` as the init's child, and the init signals the whole process group.
 */
import { initKind } from '../../core/init-kind.js';

/** Characters that mean nothing to a POSIX shell outside the first word's `=`. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** The command as argv when it has no shell syntax (quotes, $, globs, redirections, `;`, `&`…), else null. */
export function execArgv(command: string): string[] | null {
  const words = command.trim().split(/[ \t]+/);
  if (words.length === 0 || words[0] === '' || words.some((w) => !PLAIN_WORD.test(w))) return null;
  // `VAR=x cmd` is an assignment, and a leading `-` or `=`-word is nothing to exec.
  if (words[0]!.includes('=')) return null;
  return words;
}

/**
 * PID 1's full argv. tini gets `-g` (signals go to the child's process group, as dumb-init does by
 * default), so a shell's children hear SIGTERM too. Without an init the command itself is PID 1.
 */
export function pid1Argv(init: string | null, command: string): string[] {
  const argv = execArgv(command) ?? ['/bin/sh', '-c', command];
  const kind = init ? initKind(init) : null;
  if (!init || !kind) return argv;
  return kind === 'tini' ? [init, '-g', '--', ...argv] : [init, '--', ...argv];
}

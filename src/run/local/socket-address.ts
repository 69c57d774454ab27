/**
 * The address the control socket is bound and connected at. A Unix socket path must fit in
 * `sun_path` (108 bytes on Linux, NUL included); a longer one is silently truncated by the
 * kernel interface, so a supervisor of a long BRR_HOME listened on a stray socket outside its
 * home and the CLI talked to whatever sat there. Paths that fit are used as they are; a longer
 * one is reached through the run directory opened as a file descriptor,
 * `/proc/self/fd/<fd>/supervisor.sock`: the kernel resolves the directory by the fd, so any
 * home path length works, the socket stays inside the home (0700 run directory, same file for
 * every reader), and no process-wide `chdir` is needed.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { BrrError } from '../../core/errors.js';

/** Longest socket path (bytes) the kernel keeps whole: sun_path is 108 bytes with its NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Pure: whether `socketPath` can be bound or connected to by its own name. */
export function fitsSunPath(socketPath: string): boolean {
  return Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH_BYTES;
}

/**
 * Runs `use` with an address for `socketPath` that fits in sun_path, and closes the directory
 * fd it may have opened once `use` settles (a bound or connected socket no longer needs it).
 * When the socket's directory does not exist, `noDirectory` answers instead if given (a client:
 * nobody can be listening there); else that is an error.
 */
export async function withSocketAddress<T>(
  socketPath: string,
  use: (address: string) => Promise<T>,
  noDirectory?: () => T,
): Promise<T> {
  if (fitsSunPath(socketPath)) return use(socketPath);
  const dir = path.dirname(socketPath);
  const name = path.basename(socketPath);
  if (!existsSync('/proc/self/fd')) throw socketPathTooLong(socketPath, 'this system has no /proc/self/fd');
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (e) {
    if (noDirectory && errCode(e) === 'ENOENT') return noDirectory();
    throw new BrrError('control_socket_unavailable', `cannot open the run directory ${dir} (${errCode(e)})`, {
      hint: 'check that the brr home exists and is yours (--home or BRR_HOME)',
      cause: e,
    });
  }
  const address = `/proc/self/fd/${fd}/${name}`;
  if (!fitsSunPath(address)) {
    closeSync(fd);
    throw socketPathTooLong(socketPath, `even ${address} is too long`);
  }
  try {
    return await use(address);
  } finally {
    closeSync(fd);
  }
}

function socketPathTooLong(socketPath: string, why: string): BrrError {
  return new BrrError(
    'home_path_too_long',
    `the control socket ${socketPath} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a Unix socket path may have, and ${why}`,
    { hint: 'use a shorter brr home (--home or BRR_HOME)', exitCode: 2 },
  );
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

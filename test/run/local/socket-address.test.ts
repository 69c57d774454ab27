/**
 * The control socket under a home of any length: a real server and real clients on a socket
 * path far over the 108 bytes of sun_path, and the clear error of a server that cannot listen.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrrError } from '../../../src/core/errors.js';
import { startControlServer } from '../../../src/run/local/control-server.js';
import { fitsSunPath, MAX_SOCKET_PATH_BYTES } from '../../../src/run/local/socket-address.js';
import { socketAnswers } from '../../../src/run/local/supervisor-lock.js';

const dir = mkdtempSync(path.join(tmpdir(), 'brr-sock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('control socket address', () => {
  it('fits sun_path up to 107 bytes', () => {
    expect(fitsSunPath('/' + 'a'.repeat(MAX_SOCKET_PATH_BYTES - 1))).toBe(true);
    expect(fitsSunPath('/' + 'a'.repeat(MAX_SOCKET_PATH_BYTES))).toBe(false);
    // Bytes, not characters: a UTF-8 home counts what the kernel counts.
    expect(fitsSunPath('/' + 'é'.repeat(60))).toBe(false);
  });

  it('serves and answers on a 300-byte socket path, inside its directory and nowhere else', async () => {
    const run = path.join(dir, 'h'.repeat(250), 'run');
    mkdirSync(run, { recursive: true, mode: 0o700 });
    const socket = path.join(run, 'supervisor.sock');
    expect(Buffer.byteLength(socket)).toBeGreaterThan(280);
    const server = await startControlServer(
      socket,
      't'.repeat(32),
      async () => 'pong',
      () => {},
    );
    try {
      expect(readdirSync(run)).toEqual(['supervisor.sock']);
      expect(readdirSync(dir)).toEqual(['h'.repeat(250)]);
      expect(await socketAnswers(socket)).toBe(true);
    } finally {
      await server.close();
    }
    expect(await socketAnswers(socket)).toBe(false);
    // A client of a home whose run directory does not exist finds nobody, without an error.
    expect(await socketAnswers(path.join(dir, 'x'.repeat(200), 'run', 'supervisor.sock'))).toBe(false);
  });

  it('a server that cannot listen fails with control_socket_unavailable naming the socket', async () => {
    for (const socket of [
      path.join(dir, 'missing', 'supervisor.sock'),
      path.join(dir, 'm'.repeat(200), 'run', 'supervisor.sock'),
    ]) {
      const e = await startControlServer(
        socket,
        't'.repeat(32),
        async () => null,
        () => {},
      ).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BrrError);
      expect(e).toMatchObject({ code: 'control_socket_unavailable' });
      expect((e as BrrError).message).toContain(path.dirname(socket));
      expect(existsSync(socket)).toBe(false);
    }
  });
});

/**
 * The shared command runner (build recipes, container engines, release phase) and the pid
 * probe, against real child processes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive } from '../../src/core/pid-alive.js';
import { describeEnd, runCommand, shellArgv } from '../../src/core/run-command.js';

const dir = mkdtempSync(path.join(tmpdir(), 'brr-run-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PATH = process.env.PATH ?? '/usr/bin:/bin';

describe('runCommand', () => {
  it('runs an argv without a shell, logs header, output and footer, keeps the last lines', async () => {
    const log = path.join(dir, 'argv.log');
    const lines: string[] = [];
    const r = await runCommand({
      argv: ['printf', 'a\\nb\\r\\nc\\nno-newline'],
      env: { PATH },
      logFile: log,
      header: '$ printf',
      footer: (res) => `done ${res.exitCode}`,
      tailLines: 2,
      onLine: (l) => lines.push(l),
    });
    expect(r).toEqual({ exitCode: 0, signal: null, error: null, lastLines: ['c', 'no-newline'] });
    expect(lines).toEqual(['a', 'b', 'c', 'no-newline']);
    expect(readFileSync(log, 'utf8')).toBe('$ printf\na\nb\r\nc\nno-newline' + 'done 0\n');
  });

  it('reports a program that cannot start instead of throwing', async () => {
    const r = await runCommand({ argv: ['/no/such/program'], logFile: path.join(dir, 'missing.log'), tailLines: 5 });
    expect(r.exitCode).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
    expect(describeEnd(r)).toMatch(/^could not start: .*ENOENT/);
  });

  it('aborting without a process group kills the command; its exit is described by the signal', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await runCommand({
      argv: ['sleep', '60'],
      env: { PATH },
      logFile: path.join(dir, 'abort.log'),
      tailLines: 5,
      signal: ac.signal,
    });
    expect(r.signal).toBe('SIGTERM');
    expect(describeEnd(r)).toBe('was killed by SIGTERM');
  });

  it('returns on the command exit even when a background child keeps the pipes open', async () => {
    const pidFile = path.join(dir, 'bg.pid');
    const r = await runCommand({
      argv: shellArgv(`sleep 30 & echo $! > ${pidFile}; echo bye; exit 4`),
      env: { PATH },
      logFile: path.join(dir, 'bg.log'),
      tailLines: 5,
      processGroup: true,
    });
    expect(r).toMatchObject({ exitCode: 4, lastLines: ['bye'] });
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  });
});

describe('isPidAlive', () => {
  it('is true for this process and a running child, false once the child is reaped, false for nonsense', async () => {
    expect(isPidAlive(process.pid)).toBe(true);
    const child = spawn('sleep', ['30']);
    expect(isPidAlive(child.pid!)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    expect(isPidAlive(child.pid!)).toBe(false);
    expect(isPidAlive(0)).toBe(false);
    expect(isPidAlive(-1)).toBe(false);
  });
});

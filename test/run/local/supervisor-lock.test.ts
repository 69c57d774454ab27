/**
 * The supervisor lock against owners that are alive but silent: one SIGKILLed a moment ago
 * (still reads as running: kill(2) only queues the signal) is waited for and taken over; one
 * that stays alive without answering is refused with its pid; a dead owner's file is taken at once,
 * by exactly one of several starters that find it together (built code in dist/: `npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcStat } from '../../../src/core/proc.js';
import { acquireSupervisorLock } from '../../../src/run/local/supervisor-lock.js';
import { REPO, tempHome } from './helpers/fixture.js';

const home = tempHome('brr-lock-');
const children: ChildProcess[] = [];

/** A live process recorded as the owner of the pid file, as a supervisor writes it. */
function fakeOwner(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(c);
  mkdirSync(home.run, { recursive: true, mode: 0o700 });
  writeFileSync(home.pidFile, `${c.pid} ${readProcStat(c.pid as number)?.startTime ?? 0}\n`);
  return c;
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(home.pidFile, { force: true });
});

describe('supervisor lock', () => {
  it('waits for an owner that is dying and takes over once it is gone', async () => {
    const owner = fakeOwner();
    setTimeout(() => owner.kill('SIGKILL'), 300);
    const t0 = Date.now();
    const lock = await acquireSupervisorLock(home);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(readFileSync(home.pidFile, 'utf8').split(' ')[0]).toBe(String(process.pid));
    lock.release();
  });

  it('refuses an owner that stays alive and silent, naming its pid', async () => {
    const owner = fakeOwner();
    await expect(acquireSupervisorLock(home, { settleMs: 300 })).rejects.toMatchObject({
      code: 'supervisor_running',
      message: expect.stringMatching(new RegExp(`pid ${owner.pid}\\): it holds .* has not answered`)),
    });
    expect(readFileSync(home.pidFile, 'utf8').split(' ')[0]).toBe(String(owner.pid));
  });

  it("takes a dead owner's file at once", async () => {
    mkdirSync(home.run, { recursive: true, mode: 0o700 });
    // A pid that cannot be live (above pid_max), as a file left by a killed supervisor after a reboot.
    writeFileSync(home.pidFile, '4194305 12345\n');
    const t0 = Date.now();
    const lock = await acquireSupervisorLock(home);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(readFileSync(home.pidFile, 'utf8').split(' ')[0]).toBe(String(process.pid));
    lock.release();
  });

  it("lets exactly one of several starters take a dead owner's file", async () => {
    mkdirSync(home.run, { recursive: true, mode: 0o700 });
    writeFileSync(home.pidFile, '4194305 12345\n');
    const lockJs = path.join(REPO, 'dist', 'run', 'local', 'supervisor-lock.js');
    const homeJs = path.join(REPO, 'dist', 'core', 'home.js');
    const script = `
      const { acquireSupervisorLock } = await import(${JSON.stringify(lockJs)});
      const { homePaths } = await import(${JSON.stringify(homeJs)});
      try {
        const lock = await acquireSupervisorLock(homePaths(${JSON.stringify(home.root)}), { settleMs: 1500 });
        process.stdout.write('won');
        setTimeout(() => lock.release(), 2500);
      } catch (e) {
        process.stdout.write(e.code);
      }`;
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<string>((resolve) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', script], {
              stdio: ['ignore', 'pipe', 'inherit'],
            });
            children.push(c);
            let out = '';
            c.stdout.on('data', (d: Buffer) => (out += d.toString()));
            c.on('close', () => resolve(out));
          }),
      ),
    );
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'supervisor_running')).toHaveLength(3);
  }, 30_000);
});

/**
 * `brr supervise` (the built CLI, an empty home) as an operator meets it at night: started again
 * right after `kill -9` of the previous one it comes up; and every exit says why in its log —
 * losing the lock (naming who holds it), SIGHUP, SIGTERM, an uncaught exception, an unhandled
 * rejection. (Node's own start-up usually outlasts the dying one here; the lock's wait for a
 * dying owner is tested deterministically in test/run/local/supervisor-lock.test.ts.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLive, readProcStat } from '../../src/core/proc.js';
import { socketAnswers } from '../../src/run/local/supervisor-lock.js';
import { BRR, ROOT } from './harness.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'brr-exit-'));
const home = path.join(dir, 'home');
const socket = path.join(home, 'run', 'supervisor.sock');
const started: ChildProcess[] = [];
let n = 0;

/** `brr supervise` in the background, its output in a file of its own. */
function supervise(): { child: ChildProcess; logFile: string; exited: Promise<number | null> } {
  const logFile = path.join(dir, `supervise-${n++}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BRR, 'supervise', '--home', home], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, NO_COLOR: '1' },
  });
  closeSync(fd);
  started.push(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logFile, exited };
}

async function waitAnswers(timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await socketAnswers(socket, 500))) {
    if (Date.now() > deadline) throw new Error('no supervisor answered');
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterAll(() => {
  for (const c of started) if (c.pid && isLive(readProcStat(c.pid))) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('brr supervise', () => {
  let current: ReturnType<typeof supervise>;

  it('comes up when started right after kill -9 of the previous one', async () => {
    current = supervise();
    await waitAnswers();
    for (let round = 0; round < 3; round++) {
      const pid = current.child.pid as number;
      process.kill(pid, 'SIGKILL');
      const next = supervise();
      await waitAnswers();
      const log = readFileSync(next.logFile, 'utf8');
      expect(log).not.toContain('already running');
      expect(next.child.exitCode).toBeNull();
      current = next;
    }
  }, 90_000);

  it('says why it exits: the lock held by another, naming its pid', async () => {
    const second = supervise();
    expect(await second.exited).toBe(1);
    const log = readFileSync(second.logFile, 'utf8');
    expect(log).toMatch(new RegExp(`supervisor pid ${second.child.pid} starting`));
    expect(log).toContain(
      `error: a supervisor is already running for this home (pid ${current.child.pid}): it answers on the control socket`,
    );
    expect(log).toMatch(new RegExp(`supervisor pid ${second.child.pid} exiting with code 1`));
  }, 30_000);

  it('says why it exits: SIGHUP, then SIGTERM', async () => {
    current.child.kill('SIGHUP');
    expect(await current.exited).toBe(129);
    let log = readFileSync(current.logFile, 'utf8');
    expect(log).toContain('SIGHUP: exiting without stopping the apps');
    expect(log).toMatch(/exiting with code 129 \(SIGHUP\)\n$/);

    const next = supervise();
    await waitAnswers();
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    log = readFileSync(next.logFile, 'utf8');
    expect(log).toContain('SIGTERM: shutting down');
    expect(log).toMatch(/exiting with code 0 \(stopped\)\n$/);
  }, 30_000);

  it('says why it exits: an uncaught exception or an unhandled rejection', () => {
    const lastWords = path.join(ROOT, 'dist', 'run', 'local', 'last-words.js');
    for (const [fault, kind] of [
      ['setTimeout(() => { throw new Error("boom") }, 10)', 'uncaught exception'],
      ['setTimeout(() => { Promise.reject(new Error("boom")) }, 10)', 'unhandled rejection'],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { installLastWords } = await import(${JSON.stringify(lastWords)});
           installLastWords((l) => process.stderr.write(l + '\\n'));
           setInterval(() => {}, 1000);
           ${fault};`,
        ],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`fatal: ${kind}: Error: boom`);
      expect(r.stderr).toMatch(new RegExp(`exiting with code 1 \\(${kind}\\)\\n$`));
    }
  });
});

/**
 * The suite's own supervisor-kill fault and recovery check (test/chaos/chaos.ts) against a real
 * `brr supervise`: right after the fault, the check must see no supervisor, so that recovery
 * starts one. It used to read the pid file the instant after kill(2) and took the dying
 * supervisor for a live one (seed 7 #13, seed 20261201 #11 and #29).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isLive, readProcStat } from '../../src/core/proc.js';
import { socketAnswers } from '../../src/run/local/supervisor-lock.js';
import { BRR } from '../e2e/harness.js';
import { killSupervisor, supervisorPid } from './chaos.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'brr-killcheck-'));
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.pid && isLive(readProcStat(c.pid))) c.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

it('after the supervisor-kill fault no supervisor is seen, so recovery starts one', async () => {
  // Several rounds: a dying process reads as running right after kill(2) in most tries, not all.
  for (let round = 0; round < 4; round++) {
    const c = spawn(process.execPath, [BRR, 'supervise', '--home', home], { detached: true, stdio: 'ignore' });
    started.push(c);
    while (!(await socketAnswers(path.join(home, 'run', 'supervisor.sock'), 500)))
      await new Promise((r) => setTimeout(r, 50));
    expect(supervisorPid(home)).toBe(c.pid);
    expect(await killSupervisor(home)).toBe(c.pid);
    expect(supervisorPid(home)).toBeNull();
  }
}, 60_000);

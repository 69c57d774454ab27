import { describe, expect, it } from 'vitest';
import type { ChildEntry } from '../../../src/run/local/children-file.js';
import { planOrphanGroups } from '../../../src/run/local/orphans.js';
import { parseProcStat, type ProcStat } from '../../../src/core/proc.js';

const entry = (pid: number, startTime: number, graceMs = 5000): ChildEntry => ({
  app: 'a',
  release: 'v1',
  type: 'nf',
  index: 1,
  pid,
  pgid: pid,
  startTime,
  graceMs,
});
const p = (pid: number, pgrp: number, startTime: number, state = 'S'): ProcStat => ({
  pid,
  pgrp,
  startTime,
  state,
  ppid: 1,
});
const self = { pid: 10, pgrp: 10 };

describe('planOrphanGroups', () => {
  it.each<[string, ChildEntry[], ProcStat[], number[], number[]]>([
    ['a recorded child still running', [entry(100, 5000)], [p(100, 100, 5000)], [], [100]],
    ['a reused pid (other start time)', [entry(100, 5000)], [p(100, 100, 9000)], [], []],
    ['a child that is gone', [entry(100, 5000)], [], [], []],
    [
      'a zombie leader whose group still has a live member',
      [entry(100, 5000)],
      [p(100, 100, 5000, 'Z'), p(101, 100, 5001)],
      [],
      [100],
    ],
    ['a zombie leader alone', [entry(100, 5000)], [p(100, 100, 5000, 'Z')], [], []],
    ['a group whose leader exited but a forked member lives', [entry(100, 5000)], [p(101, 100, 5001)], [], [100]],
    ['a live member older than the recorded leader (not ours)', [entry(100, 5000)], [p(101, 100, 10)], [], []],
    ['a marked process not in the file', [], [p(200, 200, 7)], [200], [200]],
    ["a marked process in the supervisor's own group", [], [p(11, 10, 7)], [11], []],
    ['the supervisor itself', [], [p(10, 10, 7)], [10], []],
    ['one kill per group', [entry(100, 5000)], [p(100, 100, 5000), p(101, 100, 5001)], [100, 101], [100]],
  ])('%s', (_name, entries, procs, marked, pgids) => {
    expect(planOrphanGroups(entries, procs, marked, self).map((g) => g.pgid)).toEqual(pgids);
  });

  it('uses the recorded grace, and a short one for marker-only groups', () => {
    const groups = planOrphanGroups([entry(100, 1, 7000)], [p(100, 100, 1), p(300, 300, 2)], [300], self);
    expect(groups).toEqual([
      { pgid: 100, graceMs: 7000, source: 'children-file' },
      { pgid: 300, graceMs: 2000, source: 'marker' },
    ]);
  });
});

describe('parseProcStat', () => {
  it('reads state, ppid, pgrp and start time, even with ") " in the name', () => {
    const fields = ['S', '1', '4242', '4242', ...Array.from({ length: 15 }, (_, i) => String(i)), '987654', '0'];
    expect(parseProcStat(`4242 (we) ird) ${fields.join(' ')}`)).toEqual({
      pid: 4242,
      state: 'S',
      ppid: 1,
      pgrp: 4242,
      startTime: 987654,
    });
  });

  it('reads this process', async () => {
    const { readProcStat } = await import('../../../src/core/proc.js');
    expect(readProcStat(process.pid)).toMatchObject({ pid: process.pid, ppid: process.ppid });
  });
});

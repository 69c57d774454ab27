/**
 * planAdoption (issue 10, finding 7): an app is adopted whole or not at all — every slot of its
 * current release still running and verified, every public socket and output pipe handed over
 * by the fd holder — and everything else is left to be stopped as an orphan.
 */
import { describe, expect, it } from 'vitest';
import { outputKey, planAdoption, socketKey } from '../../../src/run/local/adoption.js';
import type { ChildEntry } from '../../../src/run/local/children-file.js';
import type { RunSpec } from '../../../src/run/types.js';
import { sampleProcess } from './helpers/fixture.js';

const spec = (release: string, scale = 2): RunSpec => ({
  app: 'upf',
  release,
  releaseHash: `h-${release}`,
  dir: '/nonexistent',
  env: {},
  processes: { nf: sampleProcess(8080, 2152, { scale }) },
  formation: {},
});

const entry = (release: string, index: number, pid: number): ChildEntry => ({
  app: 'upf',
  release,
  type: 'nf',
  index,
  pid,
  pgid: pid,
  startTime: 1000 + pid,
  graceMs: 1000,
  instance: `upf.${release}.nf.${index}.${pid}`,
  cgroup: null,
});

const ports = sampleProcess(8080, 2152).ports.map(socketKey);
const pipes = (e: ChildEntry) => [outputKey(e.instance as string, 'stdout'), outputKey(e.instance as string, 'stderr')];

describe('planAdoption', () => {
  const v1a = entry('v1', 1, 101);
  const v1b = entry('v1', 2, 102);
  const v2a = entry('v2', 1, 201);
  const everything = new Set([...ports, ...pipes(v1a), ...pipes(v1b), ...pipes(v2a)]);

  it('adopts every process of the current release and leaves the others (a cut-short switch) as orphans', () => {
    const plan = planAdoption([v1a, v1b, v2a], [spec('v1')], new Set([101, 102, 201]), everything);
    expect(plan.adopt.map((a) => [a.spec.release, [...a.bySlot.entries()]])).toEqual([
      [
        'v1',
        [
          ['nf.1', v1a],
          ['nf.2', v1b],
        ],
      ],
    ]);
    expect(plan.rest).toEqual([v2a]);
    expect(plan.refused).toEqual([]);
  });

  it.each([
    ['a process is gone (not verified)', new Set([101]), everything, 'nf.2 not running'],
    [
      'a public socket was not handed over',
      new Set([101, 102]),
      new Set([...pipes(v1a), ...pipes(v1b)]),
      'socket http not held',
    ],
    [
      'an output pipe was not handed over',
      new Set([101, 102]),
      new Set([...ports, ...pipes(v1a), outputKey(v1b.instance as string, 'stdout')]),
      'nf.2: output pipes not held',
    ],
  ])('restarts the whole app when %s', (_, verified, held, why) => {
    const plan = planAdoption([v1a, v1b], [spec('v1')], verified, held);
    expect(plan.adopt).toEqual([]);
    expect(plan.rest).toEqual([v1a, v1b]);
    expect(plan.refused.join(' ')).toContain(why);
  });

  it('never adopts an entry without an instance id (written by an older brr)', () => {
    const old = { ...entry('v1', 1, 101), instance: undefined };
    const plan = planAdoption([old], [spec('v1', 1)], new Set([101]), everything);
    expect(plan.adopt).toEqual([]);
    expect(plan.rest).toEqual([old]);
  });

  it('adopts nothing of an app the ledger no longer runs here', () => {
    const plan = planAdoption([v1a, v1b], [], new Set([101, 102]), everything);
    expect(plan).toEqual({ adopt: [], rest: [v1a, v1b], refused: [] });
  });
});

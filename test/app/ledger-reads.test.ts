/**
 * How often one local `brr run` reads the ledger: the verb in this process (a counting view of
 * the Ledger, the real SQLite one behind it) against a real supervisor started from dist/, and
 * the supervisor's side of the switch (its prepare, in-process, through the same counting view).
 * The app's state is read by event type from the ledger's indexes (app/app-state.ts), never the
 * whole event log, so the counts stay small and no read grows with the history.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { createRelease } from '../../src/app/create-release.js';
import { runApp } from '../../src/app/run-release.js';
import { stopSupervisor } from '../../src/app/processes.js';
import { supervisorDeps } from '../../src/app/supervisor-deps.js';
import { buildImage } from '../../src/build/build.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { ensureSupervisor } from '../../src/run/local/client.js';
import { cleanupTempDirs, repoWith, tempHome } from '../build/git-fixture.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const READS = new Set([
  'listEvents',
  'lastEventOf',
  'listEventsOf',
  'getRelease',
  'latestRelease',
  'listReleases',
  'listApps',
  'getLease',
  'readEntries',
]);

/** A view of `ledger` that counts read calls by method. */
function countingLedger(ledger: Ledger): { ledger: Ledger; counts: Record<string, number>; total(): number } {
  const counts: Record<string, number> = {};
  const view = new Proxy(ledger, {
    get(obj, prop) {
      const v: unknown = Reflect.get(obj, prop, obj);
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(obj);
      if (typeof prop !== 'string' || !READS.has(prop)) return fn;
      return (...a: unknown[]) => {
        counts[prop] = (counts[prop] ?? 0) + 1;
        return fn(...a);
      };
    },
  });
  return { ledger: view, counts, total: () => Object.values(counts).reduce((a, b) => a + b, 0) };
}

const BRR_YAML = `app: reads
processes:
  nf:
    command: node -e "setInterval(() => {}, 1000)"
release:
  command: "true"
`;

let ctx: Context;

beforeAll(async () => {
  const paths = tempHome();
  const { repo } = repoWith({ 'brr.yaml': BRR_YAML });
  const { digest } = await buildImage({ paths, repo });
  ctx = openContext({ home: paths.root, actor: 'tester@reads' });
  await createRelease(ctx, 'reads', { build: digest });
  // The supervisor this home's `brr run` talks to, from the compiled CLI (test/global-setup.ts).
  const client = await ensureSupervisor(ctx.paths, [
    process.execPath,
    path.join(ROOT, 'dist', 'cli', 'main.js'),
    'supervise',
    '--home',
    ctx.paths.root,
  ]);
  client.close();
}, 120_000);

afterAll(async () => {
  await stopSupervisor(ctx.paths).catch(() => {});
  await ctx.close();
  cleanupTempDirs();
});

describe('ledger reads per local `brr run`', () => {
  it('neither the verb nor the supervisor reads the whole event log', async () => {
    const cli = countingLedger(ctx.ledger);
    const r = await runApp({ ...ctx, ledger: cli.ledger }, 'reads', undefined, { lease: { waitMs: 0 } });
    expect(r).toMatchObject({ release: 'v1', releasePhase: 'ran' });
    const sup = countingLedger(ctx.ledger);
    await supervisorDeps({ ...ctx, ledger: sup.ledger }, () => {}).prepare('reads', 'v1');
    console.log(
      `ledger reads per brr run: CLI ${cli.total()} ${JSON.stringify(cli.counts)}, supervisor ${sup.total()} ${JSON.stringify(sup.counts)}`,
    );
    // Before issue 8: the verb read the whole log 3 times (trust, target, release phase) plus
    // the release; then once plus the release. Now neither reads the whole log: each part of the
    // app's state is one index read (app-state.ts): the current release, the target, the last
    // release that served before it, the release phase of v1 (the verb only), and the trust changes.
    expect(cli.counts).toEqual({ latestRelease: 1, lastEventOf: 4, listEventsOf: 1 });
    expect(sup.counts).toEqual({ getRelease: 1, lastEventOf: 3, listEventsOf: 1 });
  });
});

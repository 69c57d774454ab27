/**
 * The fault-injection suite with a small count (every fault kind about once), as part of
 * `npm test`. `npm run chaos` runs the long schedule and writes docs/reliability.md.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReport, renderTable, runChaos } from './chaos.js';

const faults = Number(process.env.BRR_CHAOS_FAULTS ?? 7);
const minutes = Number(process.env.BRR_CHAOS_MINUTES ?? 3);
const seed = Number(process.env.BRR_CHAOS_SEED ?? 20261201);

describe('fault injection', () => {
  it(
    `${faults} faults (seed ${seed}) leave every invariant intact`,
    async () => {
      const r = await runChaos({
        seed,
        faults,
        maxMs: minutes * 60_000,
        log: (l) => process.stderr.write(`chaos ${l}\n`),
      });
      process.stderr.write(`${renderTable(r)}\n`);
      if (process.env.BRR_CHAOS_REPORT) writeFileSync(process.env.BRR_CHAOS_REPORT, renderReport(r));
      expect(r.violations).toEqual([]);
      expect(r.faults).toBeGreaterThan(0);
    },
    (minutes + 3) * 60_000,
  );
});

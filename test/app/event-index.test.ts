/**
 * The console's event index (app/event-index.ts) against a real SQLite ledger: the same current
 * release, trust changes and signed events as folding the whole log, brought up to date by
 * reading only what was appended since, and folded again when the ledger is replaced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEventIndex } from '../../src/app/event-index.js';
import type { EventType } from '../../src/core/types.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { currentReleaseId } from '../../src/release/state.js';
import { signedEventsByRelease } from '../../src/release/trust.js';

const dir = mkdtempSync(path.join(tmpdir(), 'brr-event-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const at = '2026-01-01T00:00:00.000Z';
const append = (l: Ledger, type: EventType, release: string | null, detail: Record<string, unknown> = {}) =>
  l.appendEvent('app', { type, release, detail, actor: 't@h', createdAt: at });

/** The ledger, counting the rows readEntries hands out. */
function counting(l: Ledger): { ledger: Ledger; rows: () => number } {
  let n = 0;
  const ledger = Object.create(l) as Ledger;
  ledger.readEntries = async (...args) => {
    const rows = await l.readEntries(...args);
    n += rows.length;
    return rows;
  };
  return { ledger, rows: () => n };
}

describe('the console event index', () => {
  it('equals a whole fold and reads only the new events the next time', async () => {
    const real = openSqliteLedger(path.join(dir, 'a.db'));
    const { ledger, rows } = counting(real);
    for (let i = 1; i <= 30; i++) {
      await append(real, 'switch-started', `v${i}`);
      await append(real, 'activated', `v${i}`);
    }
    await append(real, 'signed', 'v3', { keyId: 'k1' });
    await append(real, 'trust-changed', null, { add: [] });
    await append(real, 'signed', 'v3', { keyId: 'k2' });
    await append(real, 'stopped', null);
    const whole = await real.listEvents('app');
    const first = await readEventIndex(ledger, 'app');
    expect(first.current).toBe(currentReleaseId(whole));
    expect(first.current).toBeNull();
    expect(first.trust.map((e) => e.seq)).toEqual(whole.filter((e) => e.type === 'trust-changed').map((e) => e.seq));
    expect(first.signed).toEqual(signedEventsByRelease(whole));
    expect(rows()).toBe(whole.length);

    await append(real, 'rolled-back', 'v29');
    const second = await readEventIndex(ledger, 'app');
    expect(second.current).toBe('v29');
    // The check of the last event read, then the one new event.
    expect(rows()).toBe(whole.length + 2);
    await real.close();
  });

  it('folds a replaced ledger again from its start', async () => {
    const a = openSqliteLedger(path.join(dir, 'b.db'));
    await append(a, 'activated', 'v1');
    await append(a, 'activated', 'v2');
    // One ledger object for the index (as a server keeps one), whose database is then replaced.
    let behind: Ledger = a;
    const shared: Pick<Ledger, 'readEntries'> = { readEntries: (...args) => behind.readEntries(...args) };
    expect((await readEventIndex(shared, 'app')).current).toBe('v2');
    await a.close();
    // Another database: the same seqs, other hashes.
    const b = openSqliteLedger(path.join(dir, 'c.db'));
    await append(b, 'activated', 'v7');
    await append(b, 'activated', 'v8');
    behind = b;
    // Nothing past seq 2 to read: only the check of the last event read finds the replacement.
    expect((await readEventIndex(shared, 'app')).current).toBe('v8');
    await b.close();
  });
});

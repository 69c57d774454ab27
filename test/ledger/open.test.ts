import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openContext } from '../../src/app/context.js';
import { describeLedger, openLedger, openLedgerNow, resolveLedgerUrl } from '../../src/ledger/open.js';
import { redactUrl, scrub, urlSecrets } from '../../src/ledger/postgres/errors.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';

/** Choosing the ledger (SQLite file or PostgreSQL URL) and never showing a URL's password. */

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-open-ledger-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ledger URL redaction', () => {
  it.each([
    ['postgres://brr:hunter2@db.example:5432/brr', 'postgres://brr:***@db.example:5432/brr'],
    ['postgresql://brr:p%40ss%2Fw@db/brr?sslmode=require', 'postgresql://brr:***@db/brr?sslmode=require'],
    ['postgres://db/brr?user=brr&password=hunter2', 'postgres://db/brr?user=brr&password=***'],
    ['postgres://brr@db/brr', 'postgres://brr@db/brr'],
    ['postgres://brr:hunter 2@[bad/brr', 'postgres://(unparseable URL)'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(describeLedger({ sqliteFile: 'x', url })).toBe(shown);
  });

  it('scrubs raw and decoded passwords from foreign text', () => {
    const secrets = urlSecrets('postgres://brr:p%40ss@db/brr?password=other');
    expect(scrub('auth p%40ss / p@ss / other failed', secrets)).toBe('auth *** / *** / *** failed');
  });
});

describe('choosing the ledger', () => {
  it('takes the flag over BRR_LEDGER_URL, and an empty value means the embedded ledger', () => {
    const env = { BRR_LEDGER_URL: 'postgres://env/db' };
    expect(resolveLedgerUrl('postgres://flag/db', env)).toBe('postgres://flag/db');
    expect(resolveLedgerUrl(undefined, env)).toBe('postgres://env/db');
    expect(resolveLedgerUrl(undefined, {})).toBeUndefined();
    expect(resolveLedgerUrl('', env)).toBeUndefined();
  });

  it('opens the SQLite file without a URL, and refuses a URL that is not postgres://', async () => {
    const file = path.join(dir, 'ledger.db');
    const ledger = await openLedger({ sqliteFile: file });
    expect(ledger).toBeInstanceOf(SqliteLedger);
    await ledger.close();
    await expect(openLedger({ sqliteFile: file, url: 'mysql://u:hunter2@h/x' })).rejects.toMatchObject({
      code: 'ledger_url_invalid',
      exitCode: 2,
    });
    expect(() => openLedgerNow({ sqliteFile: file, url: 'sqlite:///tmp/x' })).toThrow(
      expect.objectContaining({ code: 'ledger_url_invalid' }),
    );
  });

  it('openContext connects to PostgreSQL lazily: the first call reports an unreachable server, redacted; close still works', async () => {
    const ctx = openContext({ home: dir, ledger: 'postgres://brr:hunter2@127.0.0.1:1/brr' });
    const err = await ctx.ledger.listApps().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ledger_unreachable' });
    expect(JSON.stringify({ m: (err as Error).message, h: (err as { hint?: string }).hint })).not.toContain('hunter2');
    await ctx.close();
    // Awaiting a context (as callers written for an async openContext do) gives the context itself.
    const again = await openContext({ home: dir });
    expect(await again.ledger.listApps()).toEqual([]);
    await again.close();
  });
});

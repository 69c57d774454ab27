import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { leaseTtlMs, withLease } from '../../src/app/lease.js';
import { fencedLedger } from '../../src/app/lease-fence.js';
import { breakLock, holderGone, lockStatus, showLock } from '../../src/app/lease-lock.js';
import { BrrError } from '../../src/core/errors.js';
import type { NewEvent } from '../../src/ledger/ledger.js';

/** The lease contract at the use-case level, against the real SQLite ledger (two handles on one file, as two CLIs would have). */

const APP = 'upf';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function event(actor = 'test'): NewEvent {
  return {
    type: 'config-staged',
    release: null,
    detail: { set: { A: { value: '1', secret: false } }, unset: [] },
    actor,
    createdAt: new Date().toISOString(),
  };
}

async function errorOf(p: Promise<unknown>): Promise<BrrError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BrrError) return e;
    throw e;
  }
  throw new Error('expected a BrrError');
}

/** A promise plus its resolve, to hold a lease open for as long as a test needs. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

let dir: string;
let alice: Context;
let bob: Context;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'brr-lease-'));
  alice = openContext({ home: dir, actor: 'alice@h1' });
  bob = openContext({ home: dir, actor: 'bob@h2' });
});

afterEach(async () => {
  await alice.close();
  await bob.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('withLease', () => {
  it('a second operator fails fast with lease_held naming the holder, since when and until when', async () => {
    const g = gate();
    const first = withLease(alice, APP, async () => g.wait, { ttlMs: 5_000 });
    await sleep(50);
    const started = Date.now();
    const e = await errorOf(withLease(bob, APP, async () => 'never', { ttlMs: 5_000 }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(e.code).toBe('lease_held');
    expect(e.exitCode).toBe(1);
    const held = (await alice.ledger.getLease(APP))!;
    expect(e.message).toContain(`by alice@h1 (host ${os.hostname()}, pid ${process.pid}) since ${held.acquiredAt}`);
    expect(e.message).toContain(`expires at ${held.expiresAt}`);
    expect(e.hint).toContain('brr lock --force --app upf');
    expect(e.details?.lease).toMatchObject({ owner: 'alice@h1', token: held.token });
    g.open();
    await first;
    expect(await alice.ledger.getLease(APP)).toBeNull();
  });

  it('renewal keeps the lease beyond its TTL while the operation runs', async () => {
    const seen: string[] = [];
    const result = await withLease(
      alice,
      APP,
      async (ctx) => {
        const first = (await ctx.ledger.getLease(APP))!.expiresAt;
        await sleep(2_000); // more than three TTLs
        const e = await errorOf(withLease(bob, APP, async () => 'never', { ttlMs: 600 }));
        seen.push(e.code);
        expect(Date.parse((await ctx.ledger.getLease(APP))!.expiresAt)).toBeGreaterThan(Date.parse(first));
        await ctx.ledger.appendEvent(APP, event('alice@h1'));
        return 'done';
      },
      { ttlMs: 600 },
    );
    expect(result).toBe('done');
    expect(seen).toEqual(['lease_held']);
    expect(await alice.ledger.listEvents(APP)).toHaveLength(1);
  });

  it('is released when the operation fails, and the failure comes through', async () => {
    const e = await errorOf(
      withLease(alice, APP, async () => Promise.reject(new BrrError('release_phase_failed', 'boom')), { ttlMs: 5_000 }),
    );
    expect(e.code).toBe('release_phase_failed');
    expect(await alice.ledger.getLease(APP)).toBeNull();
    await expect(withLease(bob, APP, async () => 'ok', { ttlMs: 5_000 })).resolves.toBe('ok');
  });

  it('--wait: the second operator waits for the first to finish, then proceeds', async () => {
    const g = gate();
    const first = withLease(alice, APP, async () => g.wait, { ttlMs: 5_000 });
    await sleep(50);
    const waited: string[] = [];
    const second = withLease(bob, APP, async () => 'bob ran', {
      ttlMs: 5_000,
      waitMs: 5_000,
      onWait: (l) => waited.push(l.owner),
    });
    setTimeout(g.open, 400);
    await expect(second).resolves.toBe('bob ran');
    await first;
    expect(waited).toEqual(['alice@h1']);
    // A wait that runs out names the holder too.
    const g2 = gate();
    const third = withLease(alice, APP, async () => g2.wait, { ttlMs: 5_000 });
    await sleep(50);
    const e = await errorOf(withLease(bob, APP, async () => 'never', { ttlMs: 5_000, waitMs: 300 }));
    expect(e.code).toBe('lease_held');
    expect(e.message).toContain('waited');
    g2.open();
    await third;
  });

  it('a broken lease aborts the operation with lease_lost, and its late write is refused', async () => {
    let lateWrite: BrrError | null = null;
    const g = gate();
    const run = withLease(
      alice,
      APP,
      async (ctx, { signal }) => {
        await g.wait;
        expect(signal.aborted).toBe(true);
        lateWrite = await errorOf(ctx.ledger.appendEvent(APP, event('alice@h1')));
      },
      { ttlMs: 300 },
    );
    await sleep(50);
    const broken = await breakLock(bob, APP);
    expect(broken.broken?.lease?.owner).toBe('alice@h1');
    const e = await errorOf(run);
    expect(e.code).toBe('lease_lost');
    g.open();
    await sleep(20);
    expect(lateWrite!.code).toBe('lease_lost');
    const events = await bob.ledger.listEvents(APP);
    expect(events.map((x) => x.type)).toEqual(['lock-broken']);
  });
});

describe('fencing', () => {
  it("a stale holder's late write (expired token T1, T2 taken since) is refused with lease_fenced and appends nothing", async () => {
    const holder = { owner: 'alice@h1', host: 'h1', pid: 1 };
    const t1 = await alice.ledger.acquireLease(APP, holder, 100, new Date());
    await alice.ledger.appendEvent(APP, event(), { fence: t1.token });
    await sleep(150);
    const t2 = await bob.ledger.acquireLease(APP, { ...holder, owner: 'bob@h2' }, 5_000, new Date());
    expect(t2.token).toBeGreaterThan(t1.token);
    const stale = fencedLedger(alice.ledger, APP, t1.token);
    const e = await errorOf(stale.appendEvent(APP, event()));
    expect(e.code).toBe('lease_fenced');
    const r = await errorOf(
      stale.appendRelease(APP, () => ({
        build: { digest: `sha256:${'a'.repeat(64)}`, commit: 'c' },
        config: {},
        formation: {},
        cause: 'x',
        message: null,
        actor: 'alice',
        createdAt: new Date().toISOString(),
        rollbackOf: null,
      })),
    );
    expect(r.code).toBe('lease_fenced');
    expect(await bob.ledger.listEvents(APP)).toHaveLength(1);
    expect(await bob.ledger.listReleases(APP)).toHaveLength(0);
    // The current holder's fenced writes go through.
    await fencedLedger(bob.ledger, APP, t2.token).appendEvent(APP, event());
    expect(await bob.ledger.listEvents(APP)).toHaveLength(2);
  });

  it('fences only the leased app; other apps and reads pass through', async () => {
    const lease = await alice.ledger.acquireLease(APP, { owner: 'a', host: 'h', pid: 1 }, 5_000, new Date());
    await bob.ledger.breakLease(APP);
    const stale = fencedLedger(alice.ledger, APP, lease.token);
    await expect(stale.appendEvent('other', event())).resolves.toMatchObject({ app: 'other', seq: 1 });
    expect(await stale.listApps()).toEqual(['other']);
    expect((await errorOf(stale.appendEvent(APP, event()))).code).toBe('lease_fenced');
  });
});

describe('brr lock', () => {
  it('shows the lease, and --force breaks it recording who broke which lease', async () => {
    expect(await showLock(alice, APP)).toEqual({ app: APP, lease: null, expired: false, holderAlive: null });
    const g = gate();
    const run = withLease(alice, APP, async () => g.wait, { ttlMs: 600 }).catch((e: unknown) => e);
    await sleep(50);
    const shown = await showLock(bob, APP);
    expect(shown).toMatchObject({
      expired: false,
      holderAlive: true,
      lease: { owner: 'alice@h1', host: os.hostname(), pid: process.pid },
    });
    const r = await breakLock(bob, APP);
    expect(r.broken?.lease?.token).toBe(shown.lease!.token);
    const [ev] = await bob.ledger.listEvents(APP);
    expect(ev).toMatchObject({ seq: r.eventSeq, type: 'lock-broken', actor: 'bob@h2', release: null });
    expect(ev!.detail).toMatchObject({
      lease: shown.lease,
      expired: false,
      brokenBy: { owner: 'bob@h2', pid: process.pid },
    });
    expect(await showLock(bob, APP)).toMatchObject({ lease: null });
    expect(await breakLock(bob, APP)).toEqual({ broken: null, eventSeq: null });
    expect(await bob.ledger.listEvents(APP)).toHaveLength(1);
    // Alice's next renewal (every ttl/3) finds her lease gone and aborts her operation.
    expect(await run).toMatchObject({ code: 'lease_lost' });
    g.open();
    expect((await bob.ledger.verify(APP)).ok).toBe(true);
  });

  it('lockStatus: expired at its expiry instant; liveness only judged on this host', () => {
    const lease = {
      app: APP,
      owner: 'a',
      host: 'h1',
      pid: 42,
      token: 3,
      acquiredAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T00:00:30.000Z',
    };
    expect(lockStatus(APP, lease, new Date('2026-01-01T00:00:29.999Z'), 'h1', () => false)).toMatchObject({
      expired: false,
      holderAlive: false,
    });
    expect(lockStatus(APP, lease, new Date('2026-01-01T00:00:30.000Z'), 'h1', () => true)).toMatchObject({
      expired: true,
      holderAlive: true,
    });
    expect(lockStatus(APP, lease, new Date('2026-01-01T00:00:00.000Z'), 'h2', () => true)).toMatchObject({
      holderAlive: null,
    });
  });

  it('holderGone: a dead pid, or a live one that started after the lease (a reused pid), is gone; a running holder or another host is not', async () => {
    const host = os.hostname();
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const base = { app: APP, owner: 'a', token: 1, expiresAt: '2099-01-01T00:00:00.000Z' };
    const now = new Date().toISOString();
    expect(holderGone({ ...base, host, pid: dead.pid!, acquiredAt: now })).toBe(true);
    const live = spawn('sleep', ['30']);
    try {
      await new Promise((r) => live.once('spawn', r));
      // Acquired an hour ago by a process that has since died: this live pid started later, so it is not the holder.
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      expect(holderGone({ ...base, host, pid: live.pid!, acquiredAt: hourAgo })).toBe(true);
      expect(holderGone({ ...base, host, pid: live.pid!, acquiredAt: new Date().toISOString() })).toBe(false);
      expect(holderGone({ ...base, host: `${host}-elsewhere`, pid: dead.pid!, acquiredAt: now })).toBe(false);
      expect(holderGone({ ...base, host, pid: process.pid, acquiredAt: hourAgo })).toBe(false);
    } finally {
      live.kill('SIGKILL');
    }
  });

  it("withLease takes a dead holder's unexpired lease at once, records lease-taken-over and says so", async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const gone = await alice.ledger.acquireLease(
      APP,
      { owner: 'alice@h1', host: os.hostname(), pid: dead.pid! },
      600_000,
      new Date(),
    );
    const told: unknown[] = [];
    const seq = await withLease(bob, APP, async (ctx) => (await ctx.ledger.appendEvent(APP, event('bob'))).seq, {
      onTakeOver: (l) => told.push(l),
    });
    expect(told).toEqual([gone]);
    const ev = await bob.ledger.listEvents(APP);
    expect(ev.map((e) => e.type)).toEqual(['lease-taken-over', 'config-staged']);
    expect(ev[0]).toMatchObject({ actor: 'bob@h2', detail: { lease: gone, reason: 'holder-gone' } });
    expect(seq).toBe(2);
    expect(await bob.ledger.getLease(APP)).toBeNull();
  });

  it('BRR_LEASE_TTL sets the TTL; nonsense is refused', () => {
    expect(leaseTtlMs({})).toBe(30_000);
    expect(leaseTtlMs({ BRR_LEASE_TTL: '2s' })).toBe(2_000);
    expect(leaseTtlMs({ BRR_LEASE_TTL: '1500ms' })).toBe(1_500);
    expect(() => leaseTtlMs({ BRR_LEASE_TTL: 'soon' })).toThrow(/BRR_LEASE_TTL/);
    expect(() => leaseTtlMs({ BRR_LEASE_TTL: '10ms' })).toThrow(/at least 300ms/);
  });
});

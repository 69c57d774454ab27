import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashCanonical } from '../../src/core/canonical-json.js';
import { BrrError } from '../../src/core/errors.js';
import type { Config, Release } from '../../src/core/types.js';
import type { Ledger, NewEvent, ReleaseDraft } from '../../src/ledger/ledger.js';
import { COMMIT_A, DIGEST_A, NOW } from '../release/fixtures.js';

/**
 * The behaviour every Ledger driver must show. `open` returns a fresh, empty ledger each time;
 * `cleanup` (optional) removes what it left behind after the ledger is closed.
 */
export function describeLedgerContract(name: string, open: () => Promise<Ledger>, cleanup?: () => Promise<void>): void {
  describe(`Ledger contract: ${name}`, () => {
    let ledger: Ledger;
    beforeEach(async () => {
      ledger = await open();
    });
    afterEach(async () => {
      await ledger.close();
      await cleanup?.();
    });

    const draft = (config: Config = {}, over: Partial<ReleaseDraft> = {}): ReleaseDraft => ({
      build: { digest: DIGEST_A, commit: COMMIT_A },
      config,
      formation: { web: 1 },
      cause: 'deploy 1a2b3c4',
      message: null,
      actor: 'tester',
      createdAt: NOW.toISOString(),
      rollbackOf: null,
      ...over,
    });
    const event = (type: NewEvent['type'], release: string | null, detail: Record<string, unknown> = {}): NewEvent => ({
      type,
      release,
      detail,
      actor: 'sup',
      createdAt: NOW.toISOString(),
    });
    const stripHash = ({ hash: _h, ...body }: Release): Omit<Release, 'hash'> => body;

    it('starts empty', async () => {
      expect(await ledger.latestRelease('a')).toBeNull();
      expect(await ledger.listReleases('a')).toEqual([]);
      expect(await ledger.listEvents('a')).toEqual([]);
      expect(await ledger.listApps()).toEqual([]);
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: 0, events: 0, problems: [] });
    });

    it('assigns v1, v2, … and chains each release to the previous hash', async () => {
      const r1 = await ledger.appendRelease('a', () => draft({ A: { value: '1', secret: false } }));
      const r2 = await ledger.appendRelease('a', (latest) => draft(latest?.config, { cause: 'set B' }));
      expect([r1.id, r1.seq, r1.prevHash]).toEqual(['v1', 1, null]);
      expect([r2.id, r2.seq, r2.prevHash]).toEqual(['v2', 2, r1.hash]);
      for (const r of [r1, r2]) {
        expect(r.hash).toBe(hashCanonical(stripHash(r)));
        expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(await ledger.getRelease('a', r.id)).toEqual(r);
      }
      expect(await ledger.latestRelease('a')).toEqual(r2);
      expect(r2.app).toBe('a');
      expect(r2.config).toEqual({ A: { value: '1', secret: false } });
    });

    it('stores exactly the release fields, whatever else a draft carries', async () => {
      const sloppy = { ...draft(), extra: 'not part of a release', message: undefined } as unknown as ReleaseDraft;
      const r = await ledger.appendRelease('a', () => sloppy);
      expect(Object.keys(r).sort()).toEqual([
        'actor',
        'app',
        'build',
        'cause',
        'config',
        'createdAt',
        'formation',
        'hash',
        'id',
        'message',
        'prevHash',
        'rollbackOf',
        'seq',
      ]);
      expect(r.message).toBeNull();
    });

    it('keeps apps apart and lists them sorted', async () => {
      await ledger.appendRelease('b', () => draft());
      await ledger.appendRelease('a', () => draft());
      await ledger.appendEvent('c', event('stopped', null));
      expect((await ledger.appendRelease('b', () => draft())).id).toBe('v2');
      expect((await ledger.latestRelease('a'))?.id).toBe('v1');
      expect(await ledger.getRelease('a', 'v2')).toBeNull();
      expect(await ledger.listApps()).toEqual(['a', 'b', 'c']);
    });

    it('lists releases newest first, with a limit', async () => {
      for (let i = 0; i < 5; i++) await ledger.appendRelease('a', () => draft());
      expect((await ledger.listReleases('a')).map((r) => r.id)).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
      expect((await ledger.listReleases('a', { limit: 2 })).map((r) => r.id)).toEqual(['v5', 'v4']);
      await expect(ledger.listReleases('a', { limit: 0 })).rejects.toMatchObject({ code: 'limit_invalid' });
    });

    it('pages releases newest first with beforeSeq', async () => {
      for (let i = 0; i < 5; i++) await ledger.appendRelease('a', () => draft());
      await ledger.appendRelease('b', () => draft());
      expect((await ledger.listReleases('a', { beforeSeq: 4, limit: 2 })).map((r) => r.id)).toEqual(['v3', 'v2']);
      expect((await ledger.listReleases('a', { beforeSeq: 2, limit: 2 })).map((r) => r.id)).toEqual(['v1']);
      expect((await ledger.listReleases('a', { beforeSeq: 4 })).map((r) => r.id)).toEqual(['v3', 'v2', 'v1']);
      expect(await ledger.listReleases('a', { beforeSeq: 1 })).toEqual([]);
      expect((await ledger.listReleases('a', { beforeSeq: 99, limit: 1 }))[0]?.id).toBe('v5');
      const page = await ledger.listReleases('a', { beforeSeq: 3, limit: 1 });
      expect(page[0]).toEqual(await ledger.getRelease('a', 'v2'));
      await expect(ledger.listReleases('a', { beforeSeq: 0 })).rejects.toMatchObject({ code: 'limit_invalid' });
    });

    it('gives the draft the latest release and the staged config', async () => {
      const seen: Array<[string | null, Config]> = [];
      await ledger.appendEvent(
        'a',
        event('config-staged', null, { set: { K: { value: 'v', secret: true } }, unset: [] }),
      );
      await ledger.appendRelease('a', (latest, staged) => {
        seen.push([latest?.id ?? null, staged]);
        return draft(staged);
      });
      await ledger.appendRelease('a', (latest, staged) => {
        seen.push([latest?.id ?? null, staged]);
        return draft(latest?.config);
      });
      expect(seen).toEqual([
        [null, { K: { value: 'v', secret: true } }],
        ['v1', { K: { value: 'v', secret: true } }],
      ]);
      expect((await ledger.latestRelease('a'))?.config).toEqual({ K: { value: 'v', secret: true } });
    });

    it('serializes concurrent async drafts: no lost update, no duplicate id', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ledger.appendRelease('a', async (latest) => {
            await new Promise((r) => setTimeout(r, (i * 7) % 5));
            return draft({ SAW: { value: latest?.id ?? 'none', secret: false } });
          }),
        ),
      );
      expect(results.map((r) => r.id).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)))).toEqual(
        Array.from({ length: 20 }, (_, i) => `v${i + 1}`),
      );
      for (const r of results) expect(r.config.SAW?.value).toBe(r.seq === 1 ? 'none' : `v${r.seq - 1}`);
      expect((await ledger.verify('a')).ok).toBe(true);
    });

    it('appends nothing when the draft fails, and passes its error through', async () => {
      await ledger.appendRelease('a', () => draft());
      const boom = new BrrError('ledger_draft_invalid', 'no');
      await expect(ledger.appendRelease('a', () => Promise.reject(boom))).rejects.toBe(boom);
      await expect(
        ledger.appendRelease('a', () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect((await ledger.appendRelease('a', () => draft())).id).toBe('v2');
      expect((await ledger.verify()).ok).toBe(true);
    });

    it('lets a draft read the ledger but refuses an append from inside it', async () => {
      await ledger.appendRelease('a', () => draft());
      const r = await ledger.appendRelease('a', async () => {
        const all = await ledger.listReleases('a');
        return draft({}, { cause: `saw ${all.length}` });
      });
      expect(r.cause).toBe('saw 1');
      await expect(
        ledger.appendRelease('a', async () => (await ledger.appendRelease('a', () => draft()), draft())),
      ).rejects.toMatchObject({ code: 'ledger_reentrant' });
      expect((await ledger.latestRelease('a'))?.id).toBe('v2');
    });

    it('chains events per app, apart from releases, oldest first', async () => {
      await ledger.appendRelease('a', () => draft());
      const e1 = await ledger.appendEvent('a', event('switch-started', 'v1'));
      const e2 = await ledger.appendEvent('a', event('activated', 'v1', { pid: 42, note: 'ünïcödé ☃' }));
      const other = await ledger.appendEvent('b', event('stopped', null));
      expect([e1.seq, e1.prevHash, e2.seq, e2.prevHash, other.seq]).toEqual([1, null, 2, e1.hash, 1]);
      const { hash, ...body } = e2;
      expect(hash).toBe(hashCanonical(body));
      expect(await ledger.listEvents('a')).toEqual([e1, e2]);
      await expect(ledger.appendEvent('a', event('exploded' as NewEvent['type'], null))).rejects.toMatchObject({
        code: 'event_type_invalid',
      });
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: 1, events: 3, problems: [] });
      expect(await ledger.verify('b')).toMatchObject({ ok: true, releases: 0, events: 1, problems: [] });
      // Each chain's head, for the home's witness.
      const v1 = (await ledger.latestRelease('a'))!;
      expect((await ledger.verify()).heads).toEqual({
        a: { release: { seq: 1, hash: v1.hash }, event: { seq: 2, hash: e2.hash } },
        b: { event: { seq: 1, hash: other.hash } },
      });
    });

    it('finds the newest event of some types, per app', async () => {
      await ledger.appendRelease('a', () => draft());
      const s1 = await ledger.appendEvent('a', event('switch-started', 'v1'));
      const a1 = await ledger.appendEvent('a', event('activated', 'v1'));
      await ledger.appendEvent('a', event('switch-started', 'v2'));
      const st = await ledger.appendEvent('a', event('stopped', null));
      await ledger.appendEvent('b', event('activated', 'v9'));
      expect(await ledger.lastEventOf('a', ['activated', 'rolled-back', 'stopped'])).toEqual(st);
      expect(await ledger.lastEventOf('a', ['activated', 'activated'])).toEqual(a1);
      expect(await ledger.lastEventOf('a', ['rolled-back'])).toBeNull();
      expect(await ledger.lastEventOf('a', [])).toBeNull();
      expect(await ledger.lastEventOf('nope', ['activated'])).toBeNull();
      expect((await ledger.lastEventOf('a', ['switch-started', 'activated']))!.seq).toBe(3);
      expect(await ledger.lastEventOf('a', ['switch-started'])).not.toEqual(s1);
      // Only events naming a release, or naming another one.
      expect(await ledger.lastEventOf('a', ['switch-started', 'activated'], { release: 'v1' })).toEqual(a1);
      expect(await ledger.lastEventOf('a', ['switch-started'], { release: 'v1' })).toEqual(s1);
      expect(await ledger.lastEventOf('a', ['activated'], { release: 'v2' })).toBeNull();
      expect(await ledger.lastEventOf('b', ['activated'], { release: 'v1' })).toBeNull();
      expect((await ledger.lastEventOf('a', ['switch-started', 'stopped'], { notRelease: 'v1' }))!.release).toBe('v2');
      expect(await ledger.lastEventOf('a', ['activated', 'stopped'], { notRelease: 'v1' })).toBeNull();
      expect(await ledger.lastEventOf('a', ['activated', 'stopped'], { notRelease: null })).toEqual(a1);
      // Every event of some types, oldest first, optionally of one release.
      expect((await ledger.listEventsOf('a', ['switch-started', 'stopped'])).map((e) => e.seq)).toEqual([1, 3, 4]);
      expect(await ledger.listEventsOf('a', ['switch-started', 'activated'], 'v1')).toEqual([s1, a1]);
      expect(await ledger.listEventsOf('a', ['signed'])).toEqual([]);
      expect(await ledger.listEventsOf('a', [])).toEqual([]);
    });

    it('verifies entries whose values look like ledger members', async () => {
      const lookalike = ',"prevHash":null,"rollbackOf":null,"seq":1},"app":"a","id":"v1","message":';
      await ledger.appendRelease('a', () =>
        draft({ X: { value: lookalike, secret: false } }, { message: lookalike, cause: lookalike, actor: lookalike }),
      );
      await ledger.appendRelease('a', () => draft({}, { message: '"' }));
      await ledger.appendEvent(
        'a',
        event('failed', 'v2', {
          prevHash: null,
          release: 'v1',
          seq: 1,
          type: 'activated',
          nested: { app: 'b', reason: lookalike },
        }),
      );
      await ledger.appendEvent('a', event('rolled-back', 'v1', { reason: lookalike }));
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: 2, events: 2, problems: [] });
    });

    it('round-trips secrets and unicode exactly', async () => {
      const config = { T: { value: 'pa$$\u0000"wörd"\n😀', secret: true } };
      const r = await ledger.appendRelease('ä-app', () => draft(config, { message: 'déploiement' }));
      expect(await ledger.getRelease('ä-app', 'v1')).toEqual(r);
      expect(r.config).toEqual(config);
    });

    it('rejects an empty app name', async () => {
      await expect(ledger.appendRelease('', () => draft())).rejects.toMatchObject({ code: 'app_missing' });
    });

    describe('deploy leases', () => {
      const alice = { owner: 'alice@h1', host: 'h1', pid: 101 };
      const bob = { owner: 'bob@h2', host: 'h2', pid: 202 };
      const at = (ms: number): Date => new Date(NOW.getTime() + ms);

      it('acquires a free lease, then refuses a second holder while it stands', async () => {
        expect(await ledger.getLease('a')).toBeNull();
        const lease = await ledger.acquireLease('a', alice, 30_000, NOW);
        expect(lease).toEqual({
          app: 'a',
          ...alice,
          token: 1,
          acquiredAt: NOW.toISOString(),
          expiresAt: at(30_000).toISOString(),
        });
        expect(await ledger.getLease('a')).toEqual(lease);
        const held = await ledger.acquireLease('a', bob, 30_000, at(29_999)).catch((e: unknown) => e);
        expect(held).toMatchObject({ code: 'lease_held', exitCode: 1, details: { lease } });
        expect((held as BrrError).hint).toBeTruthy();
        // Another app's lease is independent, and leases are not ledger history.
        expect((await ledger.acquireLease('b', bob, 1000, NOW)).token).toBe(1);
        expect(await ledger.listApps()).toEqual([]);
        expect(await ledger.verify()).toMatchObject({ ok: true, releases: 0, events: 0, problems: [] });
      });

      it('hands an expired lease to the next holder with a higher token', async () => {
        const first = await ledger.acquireLease('a', alice, 1000, NOW);
        const second = await ledger.acquireLease('a', bob, 1000, at(1000));
        expect(second).toMatchObject({ ...bob, token: first.token + 1, acquiredAt: at(1000).toISOString() });
        expect(await ledger.getLease('a')).toEqual(second);
      });

      it('renews while current (even just expired), and refuses once taken over', async () => {
        const lease = await ledger.acquireLease('a', alice, 1000, NOW);
        const renewed = await ledger.renewLease('a', lease.token, 5000, at(500));
        expect(renewed).toEqual({ ...lease, expiresAt: at(5500).toISOString() });
        expect(await ledger.getLease('a')).toEqual(renewed);
        expect((await ledger.renewLease('a', lease.token, 1000, at(6000))).expiresAt).toBe(at(7000).toISOString());
        await ledger.acquireLease('a', bob, 1000, at(7000));
        await expect(ledger.renewLease('a', lease.token, 1000, at(7001))).rejects.toMatchObject({ code: 'lease_lost' });
        await expect(ledger.renewLease('a', 99, 1000, at(7001))).rejects.toMatchObject({ code: 'lease_lost' });
        await expect(ledger.acquireLease('a', alice, 0, NOW)).rejects.toMatchObject({
          code: 'lease_ttl_invalid',
          exitCode: 2,
        });
      });

      it('refuses appends fenced by a stale token, on releases and events, writing nothing', async () => {
        const old = await ledger.acquireLease('a', alice, 1000, NOW);
        await ledger.appendRelease('a', () => draft(), { fence: old.token });
        await ledger.appendEvent('a', event('switch-started', 'v1'), { fence: old.token });
        const next = await ledger.acquireLease('a', bob, 1000, at(2000));
        let drafted = false;
        const late = ledger.appendRelease(
          'a',
          () => {
            drafted = true;
            return draft();
          },
          { fence: old.token },
        );
        await expect(late).rejects.toMatchObject({ code: 'lease_fenced', exitCode: 1 });
        expect(drafted).toBe(false);
        await expect(ledger.appendEvent('a', event('activated', 'v1'), { fence: old.token })).rejects.toMatchObject({
          code: 'lease_fenced',
        });
        expect((await ledger.listReleases('a')).map((r) => r.id)).toEqual(['v1']);
        expect((await ledger.listEvents('a')).map((e) => e.seq)).toEqual([1]);
        expect((await ledger.appendRelease('a', () => draft(), { fence: next.token })).id).toBe('v2');
        expect((await ledger.appendEvent('a', event('activated', 'v2'), { fence: next.token })).seq).toBe(2);
        // Unfenced writes (no lease in play) still go through; a fence on a never-leased app does not.
        expect((await ledger.appendEvent('a', event('stopped', null))).seq).toBe(3);
        await expect(ledger.appendEvent('z', event('stopped', null), { fence: 1 })).rejects.toMatchObject({
          code: 'lease_fenced',
        });
      });

      it('releases (no-op for a stale token) without ever reusing a token', async () => {
        const lease = await ledger.acquireLease('a', alice, 60_000, NOW);
        await ledger.releaseLease('a', lease.token + 5);
        expect(await ledger.getLease('a')).toEqual(lease);
        await ledger.releaseLease('a', lease.token);
        expect(await ledger.getLease('a')).toBeNull();
        await expect(ledger.renewLease('a', lease.token, 1000, NOW)).rejects.toMatchObject({ code: 'lease_lost' });
        expect((await ledger.acquireLease('a', bob, 1000, NOW)).token).toBe(lease.token + 1);
        await ledger.releaseLease('nobody', 1);
      });

      it('breaks a held lease: returns it, fences its holder at once, the next token is higher', async () => {
        expect(await ledger.breakLease('a')).toBeNull();
        const lease = await ledger.acquireLease('a', alice, 60_000, NOW);
        expect(await ledger.breakLease('a')).toEqual(lease);
        expect(await ledger.getLease('a')).toBeNull();
        await expect(ledger.appendEvent('a', event('stopped', null), { fence: lease.token })).rejects.toMatchObject({
          code: 'lease_fenced',
        });
        await expect(ledger.renewLease('a', lease.token, 1000, NOW)).rejects.toMatchObject({ code: 'lease_lost' });
        const next = await ledger.acquireLease('a', bob, 1000, NOW);
        expect(next.token).toBeGreaterThan(lease.token);
        expect((await ledger.appendEvent('a', event('lock-broken', null, { lease }), { fence: next.token })).seq).toBe(
          1,
        );
      });

      it('takes over at once, with a lease-taken-over event, a lease whose holder is gone; a live holder is refused', async () => {
        const lease = await ledger.acquireLease('a', alice, 60_000, NOW);
        const asked: number[] = [];
        // A holder that runs: refused as before, after asking.
        const alive = await ledger
          .acquireLease('a', bob, 1000, at(1), { holderGone: (h) => (asked.push(h.token), false) })
          .catch((e: unknown) => e);
        expect(alive).toMatchObject({ code: 'lease_held', details: { lease } });
        expect(asked).toEqual([lease.token]);
        const taken = await ledger.acquireLease('a', bob, 1000, at(2), { holderGone: (h) => h.pid === alice.pid });
        expect(taken).toMatchObject({ ...bob, token: lease.token + 1, takenOver: { lease, eventSeq: 1 } });
        const { takenOver: _, ...plain } = taken;
        expect(await ledger.getLease('a')).toEqual(plain);
        const [ev] = await ledger.listEvents('a');
        expect(ev).toMatchObject({
          seq: 1,
          type: 'lease-taken-over',
          release: null,
          actor: bob.owner,
          createdAt: at(2).toISOString(),
          detail: { lease, reason: 'holder-gone', takenBy: { ...bob, token: lease.token + 1 } },
        });
        // The gone holder's fence is refused; the taker's goes through.
        await expect(ledger.appendEvent('a', event('stopped', null), { fence: lease.token })).rejects.toMatchObject({
          code: 'lease_fenced',
        });
        expect((await ledger.appendEvent('a', event('stopped', null), { fence: taken.token })).seq).toBe(2);
        expect((await ledger.verify()).ok).toBe(true);
        // Free and expired leases are acquired without asking and without an event.
        const never = () => {
          throw new Error('holderGone must not be asked');
        };
        expect(
          (await ledger.acquireLease('a', alice, 1000, at(5000), { holderGone: never })).takenOver,
        ).toBeUndefined();
        expect((await ledger.acquireLease('b', alice, 1000, NOW, { holderGone: never })).takenOver).toBeUndefined();
        expect((await ledger.listEvents('a')).map((e) => e.type)).toEqual(['lease-taken-over', 'stopped']);
      });

      it('gives exactly one of many concurrent acquirers the lease', async () => {
        const tries = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => ledger.acquireLease('a', { ...alice, pid: i }, 10_000, NOW)),
        );
        const won = tries.filter((t) => t.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const t of tries) if (t.status === 'rejected') expect(t.reason).toMatchObject({ code: 'lease_held' });
      });
    });
  });
}

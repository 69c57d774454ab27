import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/core/types.js';
import type { Lease } from '../../src/ledger/ledger.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { BRR, pidsWithHome, Sandbox, TEST_SECRETS_KEY, type CliResult } from './harness.js';

/**
 * Deploy leases through the real CLI, with real holders that crash (SIGKILL), stall (SIGSTOP)
 * or are broken by hand. The release command sleeps for $HOLD seconds, which keeps a deploy
 * inside its lease for as long as a test needs.
 */

const APP = 'udp-counter';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A CLI run in the background, so a test can kill or stop it. */
function startBrr(
  sb: Sandbox,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BRR, ...args], {
    cwd: sb.repo,
    env: {
      ...process.env,
      BRR_HOME: sb.home,
      NO_COLOR: '1',
      BRR_ACTOR: 'tester@e2e',
      BRR_SECRETS_KEY: TEST_SECRETS_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr })),
  );
  return { child, done };
}

async function events(sb: Sandbox): Promise<LedgerEvent[]> {
  const ledger = openSqliteLedger(path.join(sb.home, 'ledger.db'));
  try {
    return await ledger.listEvents(APP);
  } finally {
    await ledger.close();
  }
}

async function lock(sb: Sandbox): Promise<{ lease: Lease | null; expired: boolean }> {
  return sb.json(['lock']);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until `pid` holds the lease and its release phase for `release` has started. */
async function inReleasePhase(sb: Sandbox, pid: number, release: string): Promise<Lease> {
  return waitFor(`pid ${pid} in the release phase of ${release}`, async () => {
    const { lease } = await lock(sb);
    if (lease?.pid !== pid) return undefined;
    return (await events(sb)).some((e) => e.type === 'release-phase-started' && e.release === release)
      ? lease
      : undefined;
  });
}

/** Kills release commands left running from a release directory (a SIGKILLed brr cannot). */
function killOrphans(sb: Sandbox, release: string): void {
  const dir = path.join(sb.home, 'releases', APP, release);
  for (const pid of pidsWithHome(sb.home)) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === dir) process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

describe('deploy leases', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    const yml = readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8');
    sb.commit(
      'brr.yaml',
      `${yml}release:\n  command: 'if [ -n "$HOLD" ]; then sleep "$HOLD"; fi; echo migrated'\n`,
      'release phase',
    );
    await sb.ok(['deploy']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('a SIGKILLed holder on this host is taken over at once by the next deploy (not after its TTL), recorded as lease-taken-over', async () => {
    // A TTL far longer than the test: the deploy below may not wait for it (--wait 0).
    const holder = startBrr(sb, ['config', 'set', 'HOLD=60'], { BRR_LEASE_TTL: '10m' });
    const lease = await inReleasePhase(sb, holder.child.pid!, 'v2');
    holder.child.kill('SIGKILL');
    await holder.done;
    killOrphans(sb, 'v2');
    const shown = await sb.ok(['lock']);
    expect(shown.stdout).toContain(`pid       ${holder.child.pid} (not running on this host)`);

    const r = await sb.brr(['config', 'unset', 'HOLD', '--json', '--wait', '0']);
    expect(r.code).toBe(0);
    // v2 was appended by the killed deploy; this one planned against it.
    expect(JSON.parse(r.stdout)).toMatchObject({ release: 'v3' });
    expect(r.stderr).toContain(
      `took over udp-counter's deploy lease from tester@e2e (host ${lease.host}, pid ${holder.child.pid}): that process is gone`,
    );
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v3' });
    expect((await lock(sb)).lease).toBeNull();
    const ev = await events(sb);
    expect(ev.filter((e) => e.release === 'v2').map((e) => e.type)).toEqual(['release-phase-started']);
    const taken = ev.filter((e) => e.type === 'lease-taken-over');
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({
      actor: 'tester@e2e',
      release: null,
      detail: {
        lease: { pid: holder.child.pid, token: lease.token, acquiredAt: lease.acquiredAt },
        reason: 'holder-gone',
        takenBy: { owner: 'tester@e2e', token: lease.token + 1 },
      },
    });
    // It comes before everything the new holder recorded.
    expect(taken[0]!.seq).toBeLessThan(ev.find((e) => e.release === 'v3')!.seq);
    expect((await sb.ok(['verify'])).code).toBe(0);
  });

  it('a stalled holder (SIGSTOP past its expiry) is taken over; when it wakes, its late writes are refused and it exits 1', async () => {
    const holder = startBrr(sb, ['config', 'set', 'HOLD=4', '--json'], { BRR_LEASE_TTL: '1s' });
    await inReleasePhase(sb, holder.child.pid!, 'v4');
    holder.child.kill('SIGSTOP');
    await waitFor('the stalled lease to expire', async () => ((await lock(sb)).expired ? true : undefined));
    const taken = await sb.json<{ release: string }>(['config', 'unset', 'HOLD']);
    expect(taken.release).toBe('v5');
    // Its release command runs on while brr is stopped; let it finish, so the late write is due.
    const v4 = path.join(sb.home, 'releases', APP, 'v4');
    await waitFor('the stalled release command to finish', async () =>
      pidsWithHome(sb.home).some((p) => safeCwd(p) === v4) ? undefined : true,
    );
    const before = await events(sb);
    holder.child.kill('SIGCONT');
    const woke = await holder.done;
    expect(woke.code).toBe(1);
    expect(['lease_lost', 'lease_fenced']).toContain(JSON.parse(woke.stdout).error.code);
    const after = await events(sb);
    expect(after).toEqual(before);
    expect(after.filter((e) => e.release === 'v4').map((e) => e.type)).toEqual(['release-phase-started']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v5' });
  });

  it('`brr lock --force` breaks a live holder, records who broke which lease, and the holder stops at once', async () => {
    const holder = startBrr(sb, ['config', 'set', 'HOLD=60', '--json'], { BRR_LEASE_TTL: '1500ms' });
    const lease = await inReleasePhase(sb, holder.child.pid!, 'v6');
    const broke = await sb.ok(['lock', '--force', '--json'], { BRR_ACTOR: 'breaker@e2e' });
    const out = JSON.parse(broke.stdout) as { broken: Lease; eventSeq: number };
    expect(out.broken).toMatchObject({ pid: holder.child.pid, token: lease.token, owner: 'tester@e2e' });
    const started = Date.now();
    const r = await holder.done;
    expect(Date.now() - started).toBeLessThan(20_000); // not the 60 s its release command wanted
    expect(r.code).toBe(1);
    expect(['lease_lost', 'lease_fenced']).toContain(JSON.parse(r.stdout).error.code);
    const dir = path.join(sb.home, 'releases', APP, 'v6');
    await waitFor('the release command to be stopped', async () =>
      pidsWithHome(sb.home).some((p) => safeCwd(p) === dir) ? undefined : true,
    );
    const ev = (await events(sb)).find((e) => e.type === 'lock-broken')!;
    expect(ev).toMatchObject({ seq: out.eventSeq, actor: 'breaker@e2e', release: null });
    expect(ev.detail).toMatchObject({
      lease: { pid: holder.child.pid, token: lease.token },
      expired: false,
      holderAlive: true,
      brokenBy: { owner: 'breaker@e2e' },
    });
    expect((await lock(sb)).lease).toBeNull();
    expect((await sb.ok(['lock', '--force'])).stdout).toContain('nothing to break');
    expect((await sb.ok(['verify'])).code).toBe(0);
  });

  it('Ctrl-C during the release phase stops the release command too (it runs in its own process group)', async () => {
    const holder = startBrr(sb, ['config', 'set', 'HOLD=61'], { BRR_LEASE_TTL: '1s' });
    await inReleasePhase(sb, holder.child.pid!, 'v7');
    const dir = path.join(sb.home, 'releases', APP, 'v7');
    // The event is recorded just before the command is spawned: wait for the process itself.
    await waitFor('the release command to start', async () =>
      pidsWithHome(sb.home).some((p) => safeCwd(p) === dir) ? true : undefined,
    );
    holder.child.kill('SIGINT');
    const r = await holder.done;
    expect(r.code).toBe(130);
    // The lease is given back before the CLI exits: the next command does not wait for anything.
    expect((await lock(sb)).lease).toBeNull();
    expect(r.stderr).toContain(
      'interrupted: released the deploy lease on udp-counter; no switch was handed to the supervisor: the running release is unchanged',
    );
    await waitFor(
      'the release command to be stopped',
      async () => (pidsWithHome(sb.home).some((p) => safeCwd(p) === dir) ? undefined : true),
      5_000,
    );
  });

  it('SIGTERM during a switch releases the lease and says the supervisor carries the switch on; it does, and records it', async () => {
    const lastSeq = (await events(sb)).at(-1)?.seq ?? 0;
    // HEALTHY=0: the new release never passes its health check, so the switch lasts its 15 s timeout.
    const holder = startBrr(sb, ['config', 'set', 'HEALTHY=0', 'HOLD=0'], { BRR_LEASE_TTL: '10m' });
    const started = await waitFor('the switch to start', async () =>
      (await events(sb)).find((e) => e.type === 'switch-started' && e.seq > lastSeq),
    );
    const rel = started.release!;
    holder.child.kill('SIGTERM');
    const r = await holder.done;
    expect(r.code).toBe(143);
    expect((await lock(sb)).lease).toBeNull();
    expect(r.stderr).toContain(
      `interrupted: released the deploy lease on udp-counter; the supervisor carries on the switch to ${rel} and records its outcome (see \`brr status --app udp-counter\`)`,
    );
    // The next command takes the lease at once, and waits for the supervisor to finish the switch
    // it carried on (which fails its health check and is recorded so) before its own.
    const next = await sb.brr(['config', 'unset', 'HEALTHY', '--wait', '0']);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(
      `a switch to ${rel} is in progress (asked for by a command that is gone); waiting for it to end`,
    );
    const ofRel = (await events(sb)).filter((e) => e.release === rel).map((e) => e.type);
    expect(ofRel).toContain('switch-started');
    expect(ofRel.at(-1)).toBe('failed');
    const activated = (await events(sb)).filter((e) => e.type === 'activated').at(-1)!;
    expect(activated.seq).toBeGreaterThan(started.seq);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: activated.release });
  });
});

function safeCwd(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

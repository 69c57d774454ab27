import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';
import type { AuditEntry } from '../../src/app/audit.js';

/**
 * Promotion and audit through the real CLI: staging's release is promoted to prod with prod's
 * own config and run there; the audit trail names who did what, when, without secret values.
 */

type AuditJson = AuditEntry;

const STAGING = 'udp-counter';
const PROD = 'udp-prod';

describe('brr promote and brr audit through the real CLI', () => {
  let sb: Sandbox;
  let digest = '';
  beforeAll(async () => {
    sb = await Sandbox.create({ app: STAGING });
    digest = (await sb.json<{ digest: string }>(['build'])).digest;
    await sb.ok(['config', 'set', 'GREETING=staging']);
    await sb.ok(['release']);
    await sb.ok(['config', 'set', '--app', PROD, 'GREETING=prod'], { BRR_ACTOR: 'bob@ops' });
    await sb.ok(['config', 'set', '--app', PROD, '--secret', 'API_TOKEN=hunter2-secret'], { BRR_ACTOR: 'bob@ops' });
  }, 120_000);
  afterAll(async () => {
    await sb.cleanup();
  });

  it('without a current release on the source, promote asks for the release (exit 2), appending nothing', async () => {
    const r = await sb.brr(['promote', '--from', STAGING, '--to', PROD, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'nothing_to_promote' } });
    expect(await sb.json<unknown[]>(['releases', '--app', PROD])).toEqual([]);
  });

  it("promotes staging v1 to prod: same digest, prod's config, and runs it with --run", async () => {
    const p = await sb.json<{ app: string; id: string; build: string; cause: string; from: unknown; ran: boolean }>([
      'promote',
      '--from',
      STAGING,
      '--to',
      PROD,
      'v1',
      '--run',
    ]);
    expect(p).toMatchObject({
      app: PROD,
      id: 'v1',
      build: digest,
      cause: `promote ${STAGING} v1`,
      from: { app: STAGING, release: 'v1', digest },
      ran: true,
    });
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ greeting: 'prod', release: 'v1' });
    const shown = await sb.json<{ build: { digest: string }; config: Record<string, string>; cause: string }>([
      'show',
      'v1',
      '--app',
      PROD,
    ]);
    expect(shown).toMatchObject({
      build: { digest },
      cause: `promote ${STAGING} v1`,
      config: { GREETING: 'prod', API_TOKEN: '<redacted>' },
    });
    expect((await sb.ok(['verify'])).stdout).toContain('ledger intact');
  });

  it('audit merges both apps in time order, with actors, causes and the promotion', async () => {
    const all = await sb.json<AuditJson[]>(['audit']);
    const rows = all.map((e) => `${e.app} ${e.actor} ${e.action} ${e.release ?? '-'} ${e.summary}`);
    expect(rows).toEqual(
      expect.arrayContaining([
        `${STAGING} tester@e2e config-staged - set GREETING`,
        expect.stringMatching(new RegExp(`^${STAGING} tester@e2e release v1 deploy [0-9a-f]{7}$`)),
        `${PROD} bob@ops config-staged - set API_TOKEN`,
        `${PROD} tester@e2e release v1 promote ${STAGING} v1`,
        `${PROD} tester@e2e promoted v1 from ${STAGING} v1 (${digest.slice(7, 19)})`,
        expect.stringMatching(new RegExp(`^${PROD} \\S+ activated v1`)),
      ]),
    );
    const times = all.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const human = await sb.ok(['audit']);
    expect(human.stdout.split('\n')[0]).toMatch(/^TIME\s+APP\s+ACTOR\s+ACTION\s+RELEASE\s+DETAIL$/);
    for (const text of [human.stdout, JSON.stringify(all)]) expect(text).not.toContain('hunter2');
  });

  it('filters by app, actor and time; a bad --since is a usage error', async () => {
    const bob = await sb.json<AuditJson[]>(['audit', '--actor', 'bob']);
    expect(bob.map((e) => `${e.app} ${e.action}`)).toEqual([`${PROD} config-staged`, `${PROD} config-staged`]);
    const prod = await sb.json<AuditJson[]>(['audit', '--app', PROD]);
    expect(new Set(prod.map((e) => e.app))).toEqual(new Set([PROD]));
    expect(await sb.json<AuditJson[]>(['audit', '--since', '1h'])).toHaveLength(
      (await sb.json<unknown[]>(['audit'])).length,
    );
    expect(await sb.json<AuditJson[]>(['audit', '--since', '2999-01-01'])).toEqual([]);
    const bad = await sb.brr(['audit', '--since', 'last tuesday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since');
  });
});

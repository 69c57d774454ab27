/**
 * `brr serve` on a team's PostgreSQL ledger (a real PostgreSQL 15 started by the test): the same
 * API, the verification, and live activity written by another process (the CLI) through the
 * shared ledger. The password in the ledger URL never reaches an answer or the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingPostgres, startPostgres, type PgServer } from '../helpers/postgres.js';
import { BRR } from '../e2e/harness.js';
import { bodies, openStream, request, startServe, type Served } from './console-harness.js';

const skip = missingPostgres();

describe.skipIf(skip !== null)('brr serve on a PostgreSQL ledger', () => {
  let pg: PgServer;
  let url: string;
  let srv: Served;
  let token: string;
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-serve-pg-'));
  const home = path.join(dir, 'home');
  const brr = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BRR, ...args, '--ledger', url], {
      env: { ...process.env, BRR_HOME: home, NO_COLOR: '1', BRR_ACTOR: 'cli@test' },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`brr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase('serve');
    brr('config', 'set', 'A=1', '--app', 'amf'); // staged before a first release: the app exists
    token = JSON.parse(
      spawnSync(process.execPath, [BRR, 'tokens', 'create', 'ops', '--role', 'viewer', '--json'], {
        env: { ...process.env, BRR_HOME: home },
        encoding: 'utf8',
      }).stdout,
    ).token;
    srv = await startServe(home, ['--ledger', url]);
  }, 120_000);

  afterAll(async () => {
    await srv?.stop();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from the shared ledger and streams what the CLI writes to it', async () => {
    const apps = await request(`${srv.url}/api/apps`, { token });
    expect(apps.json.apps).toMatchObject([{ app: 'amf', current: null, latest: null }]);
    expect((await request(`${srv.url}/api/apps/amf/config`, { token })).json).toEqual({
      config: { A: '1' },
      secretKeys: [],
    });
    expect((await request(`${srv.url}/api/verify`, { token })).json).toMatchObject({ ok: true });
    const events = await openStream(`${srv.url}/api/events`, token);
    brr('config', 'set', 'B=2', '--app', 'amf');
    const staged = await events.waitFor((e) => e.data.kind === 'config-staged');
    expect(staged.data).toMatchObject({ app: 'amf', detail: { set: ['B'], unset: [], actor: 'cli@test' } });
    events.close();
    expect(bodies.join('\n')).not.toContain(pg.password);
    expect(srv.stderr()).not.toContain(pg.password);
  });
});

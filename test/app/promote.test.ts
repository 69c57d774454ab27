import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changeConfig } from '../../src/app/change-config.js';
import { openContext, type Context } from '../../src/app/context.js';
import { createRelease } from '../../src/app/create-release.js';
import { preflightRelease } from '../../src/app/preflight.js';
import { promoteRelease } from '../../src/app/promote.js';
import { buildImage } from '../../src/build/build.js';
import type { HomePaths } from '../../src/core/home.js';
import { generateSigningKey } from '../../src/release/signing.js';
import { changeTrust } from '../../src/release/trust.js';
import { cleanupTempDirs, sampleRepo, tempHome } from '../build/git-fixture.js';

/** Promotion and rollback preflight against a real SQLite ledger and a real built image. */

afterAll(cleanupTempDirs);

let paths: HomePaths;
let ctx: Context;
let digest: string;
let commit: string;

beforeAll(async () => {
  const sample = sampleRepo();
  paths = tempHome();
  ({ digest, commit } = await buildImage({ paths, repo: sample.repo, app: 'staging' }));
  ctx = openContext({ home: paths.root, actor: 'alice@ops' });
  await changeConfig(ctx, 'staging', { set: ['DB=staging-db'] });
  await createRelease(ctx, 'staging', { build: digest });
  await ctx.ledger.appendEvent('staging', {
    type: 'activated',
    release: 'v1',
    detail: {},
    actor: 'sup',
    createdAt: new Date().toISOString(),
  });
  await changeConfig(ctx, 'prod', { set: ['DB=prod-db'] });
});

afterAll(async () => {
  await ctx.close();
});

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ['BRR_SECRETS_KEY', 'BRR_SECRETS_KEY_FILE', 'BRR_SIGNING_KEY']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe('promoteRelease', () => {
  it("releases the source's current digest on the target with the target's staged config", async () => {
    const r = await promoteRelease(ctx, { fromApp: 'staging', toApp: 'prod' });
    expect(r.release).toMatchObject({
      app: 'prod',
      id: 'v1',
      build: { digest, commit },
      cause: 'promote staging v1',
      actor: 'alice@ops',
    });
    expect(r.release.config).toEqual({ DB: { value: 'prod-db', secret: false } });
    expect(r.release.formation).toEqual({ nf: 1 });
    expect(r.event).toMatchObject({
      type: 'promoted',
      release: 'v1',
      detail: { fromApp: 'staging', fromRelease: 'v1', digest },
      actor: 'alice@ops',
    });
    expect(r.from).toEqual({ app: 'staging', release: 'v1', digest });
  });

  it("later promotions take the target's newest config, and a named source release", async () => {
    await changeConfig(ctx, 'prod', { set: ['LOG=warn'] });
    await changeConfig(ctx, 'staging', { set: ['LOG=debug'] });
    const r = await promoteRelease(ctx, { fromApp: 'staging', toApp: 'prod', release: '2', message: 'weekly' });
    expect(r.release).toMatchObject({ id: 'v3', cause: 'promote staging v2', message: 'weekly', build: { digest } });
    expect(r.release.config).toEqual({
      DB: { value: 'prod-db', secret: false },
      LOG: { value: 'warn', secret: false },
    });
    expect((await ctx.ledger.verify()).ok).toBe(true);
  });

  it.each([
    [{ fromApp: 'staging', toApp: 'staging' }, 'promote_same_app'],
    [{ fromApp: 'staging', toApp: 'Prod!' }, 'app_invalid'],
    [{ fromApp: 'staging', toApp: 'prod', release: 'v9' }, 'release_not_found'],
    [{ fromApp: 'nowhere', toApp: 'prod' }, 'nothing_to_promote'],
  ])('refuses %j with %s and appends nothing', async (opts, code) => {
    const before = (await ctx.ledger.listReleases('prod')).length;
    await expect(promoteRelease(ctx, opts)).rejects.toMatchObject({ code });
    expect(await ctx.ledger.listReleases('prod')).toHaveLength(before);
  });

  it('signs the promoted release when a signing key is configured', async () => {
    const key = generateSigningKey();
    const file = `${paths.root}/sign.pem`;
    writeFileSync(file, key.privatePem);
    const signing = { ...ctx, settings: { ...ctx.settings, signingKeyFile: file } };
    const r = await promoteRelease(signing, { fromApp: 'staging', toApp: 'qa' });
    const signed = (await ctx.ledger.listEvents('qa')).filter((e) => e.type === 'signed');
    expect(signed).toMatchObject([{ release: r.release.id, detail: { keyId: key.keyId, hash: r.release.hash } }]);
  });
});

describe('preflightRelease', () => {
  it('passes for a present, verifying, unencrypted, policy-free release', async () => {
    const v1 = (await ctx.ledger.getRelease('staging', 'v1'))!;
    await expect(preflightRelease(ctx, 'staging', v1)).resolves.toEqual({
      app: 'staging',
      release: 'v1',
      digest,
      checks: ['build', 'secrets', 'trust'],
    });
  });

  it('refuses a release whose secrets no longer decrypt with the configured key', async () => {
    const withKey = (key?: string) => ({ ...ctx, settings: { ...ctx.settings, secretsKey: { key } } });
    const keyed = withKey(randomBytes(32).toString('base64'));
    const { release } = await changeConfig(keyed, 'staging', { set: ['TOKEN=t0p'], secret: true });
    await expect(preflightRelease(withKey(), 'staging', release!)).rejects.toMatchObject({
      code: 'secret_key_missing',
    });
    await expect(
      preflightRelease(withKey(randomBytes(32).toString('base64')), 'staging', release!),
    ).rejects.toMatchObject({ code: 'secret_key_mismatch' });
    await expect(preflightRelease(keyed, 'staging', release!)).resolves.toMatchObject({
      release: release!.id,
    });
  });

  it("refuses a release the app's trust policy does not accept", async () => {
    await changeTrust(ctx, 'staging', { add: generateSigningKey().publicKey });
    const v1 = (await ctx.ledger.getRelease('staging', 'v1'))!;
    await expect(preflightRelease(ctx, 'staging', v1)).rejects.toMatchObject({ code: 'release_untrusted' });
  });

  it('checks the build first: a collected build is named before secrets or trust', async () => {
    const v1 = (await ctx.ledger.getRelease('staging', 'v1'))!;
    rmSync(`${paths.oci}/index.json`);
    writeFileSync(`${paths.oci}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [] }));
    const err = await preflightRelease(ctx, 'staging', v1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'build_collected', details: { commit, digest } });
    expect((err as { hint: string }).hint).toContain(`--ref ${commit}`);
    // Promotion refuses it too, before appending anything to the target.
    const before = (await ctx.ledger.listReleases('prod')).length;
    await expect(promoteRelease(ctx, { fromApp: 'staging', toApp: 'prod', release: 'v1' })).rejects.toMatchObject({
      code: 'build_collected',
    });
    expect(await ctx.ledger.listReleases('prod')).toHaveLength(before);
  });
});

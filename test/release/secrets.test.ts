import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { changeConfig } from '../../src/app/change-config.js';
import { openContext, type Context } from '../../src/app/context.js';
import { loadSecretsKey, resolveSettings } from '../../src/app/settings.js';
import { fixedClock } from '../../src/core/clock.js';
import { BrrError } from '../../src/core/errors.js';
import { configEnv } from '../../src/release/config.js';
import { diffReleases } from '../../src/release/diff.js';
import {
  checkReleaseDecrypts,
  openConfig,
  openSecret,
  sealConfigChange,
  sealSecret,
  secretsKey,
  secretsKeyFromEnv,
} from '../../src/release/secrets.js';
import { COMMIT_A, DIGEST_A, NOW, makeRelease, plain, secret } from './fixtures.js';
import { brrErrorOf } from '../helpers/errors.js';

const RAW = randomBytes(32);
const KEY = secretsKey(RAW);
const OTHER = secretsKey(randomBytes(32));
const VALUE = 'hunter2-very-secret';

const thrown = brrErrorOf;

describe('sealSecret / openSecret', () => {
  it('round-trips, and the sealed text names the key, not the value', () => {
    const sealed = sealSecret(KEY, 'API_TOKEN', VALUE);
    expect(sealed).toMatch(new RegExp(`^enc:v1:${KEY.id}:[A-Za-z0-9+/]+=*$`));
    expect(sealed).not.toContain(VALUE);
    expect(openSecret(KEY, 'API_TOKEN', sealed)).toBe(VALUE);
    expect(openSecret(KEY, 'EMPTY', sealSecret(KEY, 'EMPTY', ''))).toBe('');
  });

  it('is deterministic per (key name, value), and differs across names, values and keys', () => {
    const s = sealSecret(KEY, 'API_TOKEN', VALUE);
    expect(sealSecret(KEY, 'API_TOKEN', VALUE)).toBe(s);
    expect(sealSecret(KEY, 'OTHER_TOKEN', VALUE)).not.toBe(s);
    expect(sealSecret(KEY, 'API_TOKEN', `${VALUE}!`)).not.toBe(s);
    expect(sealSecret(OTHER, 'API_TOKEN', VALUE)).not.toBe(s);
    expect(secretsKey(RAW)).toEqual(KEY);
  });

  it('refuses the wrong key, no key, a moved or altered ciphertext, never telling the value', () => {
    const sealed = sealSecret(KEY, 'API_TOKEN', VALUE);
    const altered = sealed.slice(0, -4) + (sealed.endsWith('AAA=') ? 'BBB=' : 'AAA=');
    const cases: Array<[BrrError, string]> = [
      [thrown(() => openSecret(OTHER, 'API_TOKEN', sealed)), 'secret_key_mismatch'],
      [thrown(() => openSecret(null, 'API_TOKEN', sealed)), 'secret_key_missing'],
      [thrown(() => openSecret(KEY, 'DB_PASSWORD', sealed)), 'secret_corrupt'],
      [thrown(() => openSecret(KEY, 'API_TOKEN', altered)), 'secret_corrupt'],
    ];
    for (const [e, code] of cases) {
      expect(e.code).toBe(code);
      expect(`${e.message} ${e.hint} ${JSON.stringify(e.details)}`).not.toContain(VALUE);
    }
    expect(cases[0]![0].message).toContain(KEY.id);
    expect(cases[1]![0].hint).toContain('BRR_SECRETS_KEY');
  });

  it('passes plain values (releases from before encryption) through', () => {
    expect(openSecret(null, 'OLD', 'plain-old')).toBe('plain-old');
  });
});

describe('secretsKeyFromEnv', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-secrets-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads BRR_SECRETS_KEY, then BRR_SECRETS_KEY_FILE; none is null', () => {
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, `${RAW.toString('base64')}\n`);
    expect(secretsKeyFromEnv({ BRR_SECRETS_KEY: RAW.toString('base64') })?.id).toBe(KEY.id);
    expect(secretsKeyFromEnv({ BRR_SECRETS_KEY_FILE: file })?.id).toBe(KEY.id);
    expect(secretsKeyFromEnv({ BRR_SECRETS_KEY: '' })).toBeNull();
    expect(secretsKeyFromEnv({})).toBeNull();
  });

  it('refuses a key that is not base64 of 32 bytes, or an unreadable file', () => {
    expect(() => secretsKeyFromEnv({ BRR_SECRETS_KEY: randomBytes(16).toString('base64') })).toThrow(
      expect.objectContaining({ code: 'secrets_key_invalid' }),
    );
    expect(() => secretsKeyFromEnv({ BRR_SECRETS_KEY: 'not base64 at all!' })).toThrow(
      expect.objectContaining({ code: 'secrets_key_invalid' }),
    );
    expect(() => secretsKeyFromEnv({ BRR_SECRETS_KEY_FILE: path.join(dir, 'missing') })).toThrow(
      expect.objectContaining({ code: 'secrets_key_invalid' }),
    );
  });
});

describe('sealing config changes, decrypting at run time', () => {
  it('seals --secret values and values of keys already secret; leaves the rest', () => {
    const base = { TOKEN: secret('old'), LEVEL: plain('info') };
    const out = sealConfigChange(base, { TOKEN: 'new', LEVEL: 'debug' }, false, KEY);
    expect(out.LEVEL).toBe('debug');
    expect(openSecret(KEY, 'TOKEN', out.TOKEN!)).toBe('new');
    expect(openSecret(KEY, 'LEVEL', sealConfigChange(base, { LEVEL: 'x' }, true, KEY).LEVEL!)).toBe('x');
  });

  it('refuses a secret without a key (no plaintext secret in the ledger), but not a plain value', () => {
    const e = thrown(() => sealConfigChange({}, { TOKEN: VALUE }, true, null));
    expect(e).toMatchObject({ code: 'secret_key_missing', exitCode: 2 });
    expect(e.hint).toContain('BRR_SECRETS_KEY');
    expect(`${e.message}${e.hint}`).not.toContain(VALUE);
    expect(sealConfigChange({}, { LEVEL: 'info' }, false, null)).toEqual({ LEVEL: 'info' });
  });

  it('configEnv and checkReleaseDecrypts open sealed values with the right key only', () => {
    const rel = makeRelease(1, { config: { TOKEN: secret(sealSecret(KEY, 'TOKEN', VALUE)), LEVEL: plain('info') } });
    expect(configEnv(rel.config, KEY)).toEqual({ LEVEL: 'info', TOKEN: VALUE });
    expect(() => configEnv(rel.config, null)).toThrow(expect.objectContaining({ code: 'secret_key_missing' }));
    expect(openConfig(rel.config, KEY)).toEqual({ TOKEN: secret(VALUE), LEVEL: plain('info') });
    // The key a command is configured with (Settings, resolved from BRR_SECRETS_KEY at the edge).
    const settings = (env: NodeJS.ProcessEnv) => resolveSettings({ home: os.tmpdir() }, env);
    expect(configEnv(rel.config, loadSecretsKey(settings({ BRR_SECRETS_KEY: RAW.toString('base64') }))).TOKEN).toBe(
      VALUE,
    );
    expect(() => configEnv(rel.config, loadSecretsKey(settings({ BRR_SECRETS_KEY: '' })))).toThrow(
      expect.objectContaining({ code: 'secret_key_missing' }),
    );
    checkReleaseDecrypts(rel, { BRR_SECRETS_KEY: RAW.toString('base64') });
    expect(() => checkReleaseDecrypts(rel, {})).toThrow(expect.objectContaining({ code: 'secret_key_missing' }));
    expect(() => checkReleaseDecrypts(rel, { BRR_SECRETS_KEY: randomBytes(32).toString('base64') })).toThrow(
      expect.objectContaining({ code: 'secret_key_mismatch' }),
    );
    checkReleaseDecrypts(makeRelease(2), {}); // nothing sealed: nothing needed
  });
});

describe('changeConfig with a real ledger', () => {
  let dir: string;
  let ctx: Context;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-secrets-'));
    vi.stubEnv('BRR_SECRETS_KEY', RAW.toString('base64'));
    vi.stubEnv('BRR_SIGNING_KEY', '');
    // Settings are resolved when the context opens: after the environment is set.
    ctx = openContext({ home: dir, clock: fixedClock(NOW.toISOString()), actor: 'tester@unit' });
    await ctx.ledger.appendRelease('upf', () => ({
      build: { digest: DIGEST_A, commit: COMMIT_A },
      config: {},
      formation: { web: 1 },
      cause: 'deploy',
      message: null,
      actor: 't',
      createdAt: NOW.toISOString(),
      rollbackOf: null,
    }));
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores ciphertext; the same value again is no change; a new value diffs as "changed"', async () => {
    const first = await changeConfig(ctx, 'upf', { set: [`TOKEN=${VALUE}`], secret: true });
    expect(first.release?.config.TOKEN).toEqual({ value: sealSecret(KEY, 'TOKEN', VALUE), secret: true });
    expect(JSON.stringify(first.release)).not.toContain(VALUE);
    expect((await changeConfig(ctx, 'upf', { set: [`TOKEN=${VALUE}`] })).release).toBeNull();
    const second = await changeConfig(ctx, 'upf', { set: ['TOKEN=rotated'] }); // sticky: still sealed
    expect(openSecret(KEY, 'TOKEN', second.release!.config.TOKEN!.value)).toBe('rotated');
    expect(diffReleases(first.release!, second.release!).config.changed).toEqual([{ key: 'TOKEN', secret: true }]);
  });

  it('refuses --secret without a key and appends nothing', async () => {
    const keyless = { ...ctx, settings: { ...ctx.settings, secretsKey: {} } };
    await expect(changeConfig(keyless, 'upf', { set: [`TOKEN=${VALUE}`], secret: true })).rejects.toMatchObject({
      code: 'secret_key_missing',
    });
    expect((await ctx.ledger.listReleases('upf')).map((r) => r.id)).toEqual(['v1']);
  });
});

/**
 * API tokens (app/tokens.ts) on a real home: only hashes on disk, 0600, atomic rewrite, name
 * and role checks, duplicate and unknown names, and a verifier that follows the file.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/core/home.js';
import {
  createToken,
  hashToken,
  listTokens,
  readTokens,
  revokeToken,
  roleAllows,
  TokenVerifier,
  tokensFile,
} from '../../src/app/tokens.js';

let dir: string;
let ctx: { paths: ReturnType<typeof homePaths>; actor: string; clock: { now(): Date } };
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'brr-tokens-'));
  ctx = { paths: homePaths(dir), actor: 'alice@h', clock: { now: () => new Date('2026-01-02T03:04:05.000Z') } };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('API tokens', () => {
  it('prints the token once and stores only its sha256, 0600, with no temp file left', () => {
    const t = createToken(ctx, 'ci-deployer', 'deployer');
    expect(t.token).toMatch(/^brr_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(tokensFile(dir), 'utf8');
    expect(text).not.toContain(t.token);
    expect(text).not.toContain(t.token.slice(4));
    expect(readTokens(dir)).toEqual([
      {
        name: 'ci-deployer',
        role: 'deployer',
        hash: hashToken(t.token),
        createdAt: '2026-01-02T03:04:05.000Z',
        createdBy: 'alice@h',
      },
    ]);
    expect(statSync(tokensFile(dir)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(listTokens(ctx)).toEqual([
      { name: 'ci-deployer', role: 'deployer', createdAt: '2026-01-02T03:04:05.000Z', createdBy: 'alice@h' },
    ]);
  });

  it('refuses bad names, bad roles and duplicates; revoking an unknown name is not found', () => {
    for (const bad of ['', 'Admin', '-x', 'a b', 'x'.repeat(64), '../x', 'a/b'])
      expect(() => createToken(ctx, bad, 'viewer'), bad).toThrow(
        expect.objectContaining({ code: 'token_name_invalid' }),
      );
    expect(() => createToken(ctx, 'ok', 'root')).toThrow(expect.objectContaining({ code: 'token_role_invalid' }));
    createToken(ctx, 'ok.1_a-b', 'viewer');
    expect(() => createToken(ctx, 'ok.1_a-b', 'admin')).toThrow(
      expect.objectContaining({ code: 'token_exists', hint: expect.stringContaining('brr tokens revoke ok.1_a-b') }),
    );
    expect(() => revokeToken(ctx, 'nope')).toThrow(expect.objectContaining({ code: 'token_not_found' }));
    expect(revokeToken(ctx, 'ok.1_a-b')).toMatchObject({ name: 'ok.1_a-b', role: 'viewer' });
    expect(listTokens(ctx)).toEqual([]);
  });

  it('orders roles viewer < deployer < admin', () => {
    expect(roleAllows('admin', 'deployer')).toBe(true);
    expect(roleAllows('deployer', 'deployer')).toBe(true);
    expect(roleAllows('deployer', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'deployer')).toBe(false);
  });

  it('verifies tokens and follows the file: a revoked token stops at once, a new one works', () => {
    const v = new TokenVerifier(dir);
    expect(v.verify('brr_' + 'x'.repeat(43))).toBeNull();
    const a = createToken(ctx, 'a', 'admin');
    const found = v.verify(a.token);
    expect(found?.token).toMatchObject({ name: 'a', role: 'admin' });
    expect(v.stillValid(found!.hash)).toBe(true);
    expect(v.verify(a.token.slice(0, -1) + (a.token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(v.verify(`${a.token} `)).toBeNull();
    revokeToken(ctx, 'a');
    expect(v.verify(a.token)).toBeNull();
    expect(v.stillValid(found!.hash)).toBe(false);
    const b = createToken(ctx, 'a', 'viewer'); // same name again: a new token, the old one stays dead
    expect(v.verify(a.token)).toBeNull();
    expect(v.verify(b.token)?.token.role).toBe('viewer');
  });

  it('reports a damaged tokens file instead of treating it as empty', () => {
    writeFileSync(tokensFile(dir), '{"version":1,"tokens":[{"name":"x"}]}');
    expect(() => listTokens(ctx)).toThrow(expect.objectContaining({ code: 'tokens_file_invalid' }));
    expect(() => new TokenVerifier(dir).verify('brr_' + 'x'.repeat(43))).toThrow(
      expect.objectContaining({ code: 'tokens_file_invalid' }),
    );
  });
});

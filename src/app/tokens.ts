/**
 * API tokens of the operator console (`brr tokens create|list|revoke`, `brr serve`): who may
 * call the HTTP API and with which role. Kept in `<home>/tokens.json` (0600, written to a temp
 * file and renamed, so a reader never sees half a file), and only as `sha256:<hex>` of each
 * token: a stolen tokens.json lets nobody in. The token text is shown once, at creation.
 *
 * Tokens are 32 random bytes, so a plain sha256 (no salt, no slow hash) is enough: there is
 * nothing to guess. Lookups compare hashes in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrrError, invalidInput, notFound } from '../core/errors.js';
import type { Context } from './context.js';

export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** One stored token: never the token itself. */
export interface StoredToken {
  name: string;
  role: Role;
  /** `sha256:<hex>` of the token text. */
  hash: string;
  createdAt: string;
  createdBy: string;
}

/** A token as listed (no hash either: nothing derived from the secret leaves the file). */
export type TokenInfo = Omit<StoredToken, 'hash'>;

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TOKEN = /^brr_[A-Za-z0-9_-]{43}$/;
const FILE = 'tokens.json';

/** Where a home keeps its tokens. */
export function tokensFile(home: string): string {
  return path.join(home, FILE);
}

/** Whether `have` is at least `need` (viewer < deployer < admin). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export function parseRole(role: string): Role {
  if ((ROLES as readonly string[]).includes(role)) return role as Role;
  throw invalidInput(
    'token_role_invalid',
    `no role ${JSON.stringify(role)}`,
    'a role is viewer (reads), deployer (also runs, rolls back, changes config) or admin (also tokens and trust)',
  );
}

export function checkTokenName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name))
    throw invalidInput(
      'token_name_invalid',
      `${JSON.stringify(name)} is not a valid token name`,
      'use 1-63 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. ci-deployer)',
    );
}

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** Reads the token file (an absent file is no tokens). */
export function readTokens(home: string): StoredToken[] {
  const file = tokensFile(home);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BrrError('tokens_file_invalid', `cannot read ${file}: ${(e as Error).message}`, {
      hint: 'check the permissions of the brr home',
    });
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; tokens?: unknown };
    if (doc.version !== 1 || !Array.isArray(doc.tokens)) throw new Error('not a version 1 token file');
    for (const t of doc.tokens as StoredToken[]) {
      if (
        typeof t.name !== 'string' ||
        !(ROLES as readonly string[]).includes(t.role) ||
        !/^sha256:[0-9a-f]{64}$/.test(t.hash)
      )
        throw new Error('an entry lacks a name, role or hash');
    }
    return doc.tokens as StoredToken[];
  } catch (e) {
    throw new BrrError('tokens_file_invalid', `${file} is not a brr token file: ${(e as Error).message}`, {
      hint: 'restore it from a backup, or move it aside and create the tokens again',
    });
  }
}

function writeTokens(home: string, tokens: StoredToken[]): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = tokensFile(home);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** `brr tokens create NAME --role R`: the token text, returned once; only its hash is kept. */
export function createToken(
  ctx: Pick<Context, 'paths' | 'actor' | 'clock'>,
  name: string,
  role: string,
): { name: string; role: Role; token: string } {
  checkTokenName(name);
  const r = parseRole(role);
  const tokens = readTokens(ctx.paths.root);
  if (tokens.some((t) => t.name === name))
    throw new BrrError('token_exists', `a token named ${name} exists already`, {
      hint: `pick another name, or revoke it first: brr tokens revoke ${name}`,
    });
  const token = `brr_${randomBytes(32).toString('base64url')}`;
  tokens.push({
    name,
    role: r,
    hash: hashToken(token),
    createdAt: ctx.clock.now().toISOString(),
    createdBy: ctx.actor,
  });
  writeTokens(ctx.paths.root, tokens);
  return { name, role: r, token };
}

/** `brr tokens list`: names and roles, never hashes. */
export function listTokens(ctx: Pick<Context, 'paths'>): TokenInfo[] {
  return readTokens(ctx.paths.root).map(({ hash: _hash, ...info }) => info);
}

/** `brr tokens revoke NAME`: the token stops working at once (a running server re-reads the file). */
export function revokeToken(ctx: Pick<Context, 'paths'>, name: string): TokenInfo {
  checkTokenName(name);
  const tokens = readTokens(ctx.paths.root);
  const gone = tokens.find((t) => t.name === name);
  if (!gone)
    throw notFound(
      'token_not_found',
      `no token named ${name}`,
      tokens.length > 0 ? `tokens: ${tokens.map((t) => t.name).join(', ')}` : 'this home has no tokens',
    );
  writeTokens(
    ctx.paths.root,
    tokens.filter((t) => t !== gone),
  );
  const { hash: _hash, ...info } = gone;
  return info;
}

/**
 * The tokens as a server checks them: re-read whenever the file changes (mtime, size or inode),
 * so a revocation takes effect on the next request without restarting the server.
 */
export class TokenVerifier {
  private stamp = '';
  private tokens: StoredToken[] = [];

  constructor(private readonly home: string) {}

  /** The current stored tokens (re-read when the file changed). */
  current(): StoredToken[] {
    let stamp = 'absent';
    try {
      const st = statSync(tokensFile(this.home));
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch {}
    if (stamp !== this.stamp) {
      this.tokens = stamp === 'absent' ? [] : readTokens(this.home);
      this.stamp = stamp;
    }
    return this.tokens;
  }

  /** The token `text` names and its stored hash (the session's link to it), or null (malformed, unknown or revoked). */
  verify(text: string): { token: TokenInfo; hash: string } | null {
    if (typeof text !== 'string' || !TOKEN.test(text)) return null;
    const want = Buffer.from(hashToken(text));
    for (const t of this.current()) {
      const have = Buffer.from(t.hash);
      if (have.length === want.length && timingSafeEqual(have, want)) {
        const { hash, ...info } = t;
        return { token: info, hash };
      }
    }
    return null;
  }

  /** Whether the token with this stored hash still exists (sessions die with their token). */
  stillValid(hash: string): boolean {
    return this.current().some((t) => t.hash === hash);
  }
}

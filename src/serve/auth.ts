/**
 * Who is calling: a Bearer token (scripts) or the session cookie the dashboard got by logging in
 * with a token. Sessions live in this process's memory only (a restart logs everyone out), end
 * after SESSION_TTL_MS, and die with their token: each request checks the token still exists in
 * tokens.json, which TokenVerifier re-reads when it changes. A cookie-authenticated write must
 * echo the session's CSRF value in `X-CSRF-Token` (SameSite=Strict already keeps other sites'
 * requests from carrying the cookie; the header is the second lock). Bad tokens are counted per
 * client address: FAILURE_LIMIT in FAILURE_WINDOW_MS and the address gets 429 until the oldest
 * failure ages out, for every credentialed request (a valid token too, so the limit is no oracle).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BrrError } from '../core/errors.js';
import { roleAllows, type Role, type TokenInfo, type TokenVerifier } from '../app/tokens.js';

export const SESSION_COOKIE = 'brr_session';
export const SESSION_TTL_MS = 8 * 3600_000;
export const FAILURE_LIMIT = 5;
export const FAILURE_WINDOW_MS = 60_000;

export interface Session {
  id: string;
  name: string;
  role: Role;
  /** The stored hash of the token it was made with (the link that revocation cuts). */
  tokenHash: string;
  csrf: string;
  expiresAt: number;
}

/** The caller of one request. */
export interface Caller {
  name: string;
  role: Role;
  via: 'bearer' | 'session';
  session?: Session;
}

const unauthorized = (message: string) =>
  new BrrError('unauthorized', message, {
    hint: 'send `Authorization: Bearer brr_…` (create a token with `brr tokens create NAME --role viewer`) or log in at POST /api/session',
  });

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie of that name from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Failed logins per client address, in a sliding window. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(private readonly now: () => number = Date.now) {}

  private recent(addr: string): number[] {
    const since = this.now() - FAILURE_WINDOW_MS;
    const list = (this.failures.get(addr) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(addr);
    else this.failures.set(addr, list);
    return list;
  }

  /** Throws `rate_limited` (details.retryAfterS) while `addr` has used up its failures. */
  check(addr: string): void {
    const list = this.recent(addr);
    if (list.length < FAILURE_LIMIT) return;
    const retryAfterS = Math.max(1, Math.ceil((list[0]! + FAILURE_WINDOW_MS - this.now()) / 1000));
    throw new BrrError('rate_limited', `too many failed logins from ${addr}; try again in ${retryAfterS} s`, {
      hint: 'check the token (`brr tokens list` names the existing ones); failures are forgotten after a minute',
      details: { retryAfterS },
    });
  }

  fail(addr: string): void {
    const list = this.recent(addr);
    list.push(this.now());
    this.failures.set(addr, list);
  }
}

export class Authenticator {
  private readonly sessions = new Map<string, Session>();
  readonly limiter: FailureLimiter;

  constructor(
    private readonly tokens: TokenVerifier,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new FailureLimiter(now);
  }

  /** A token presented to log in or as Bearer: its info, or `unauthorized` (counted as a failure). */
  checkToken(addr: string, text: string): { token: TokenInfo; hash: string } {
    this.limiter.check(addr);
    const found = this.tokens.verify(text);
    if (!found) {
      this.limiter.fail(addr);
      throw unauthorized('unknown or revoked API token');
    }
    return found;
  }

  /** POST /api/session: a new session for a valid token. */
  login(addr: string, text: string): Session {
    const { token, hash } = this.checkToken(addr, text);
    this.sweep();
    const s: Session = {
      id: randomBytes(32).toString('base64url'),
      name: token.name,
      role: token.role,
      tokenHash: hash,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + SESSION_TTL_MS,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  logout(s: Session): void {
    this.sessions.delete(s.id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }

  /** The caller of a request (Bearer first, then the session cookie), or `unauthorized`. */
  authenticate(req: IncomingMessage, addr: string): Caller {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m) {
        this.limiter.check(addr);
        this.limiter.fail(addr);
        throw unauthorized('the Authorization header is not `Bearer <token>`');
      }
      const { token } = this.checkToken(addr, m[1]!);
      return { name: token.name, role: token.role, via: 'bearer' };
    }
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (sid === undefined) throw unauthorized('no API token and no session');
    const s = this.sessions.get(sid);
    if (!s || s.expiresAt <= this.now()) {
      if (s) this.sessions.delete(sid);
      throw unauthorized('the session expired or does not exist: log in again');
    }
    if (!this.tokens.stillValid(s.tokenHash)) {
      this.sessions.delete(sid);
      throw unauthorized('the token of this session was revoked');
    }
    return { name: s.name, role: s.role, via: 'session', session: s };
  }

  /** `forbidden` unless the caller's role reaches `need`. */
  authorize(caller: Caller, need: Role): void {
    if (!roleAllows(caller.role, need))
      throw new BrrError('forbidden', `token ${caller.name} is a ${caller.role}; this needs ${need}`, {
        hint: `ask an admin for a ${need} token (brr tokens create NAME --role ${need})`,
      });
  }

  /** A cookie-authenticated write needs the session's CSRF value in X-CSRF-Token. */
  checkCsrf(caller: Caller, req: IncomingMessage): void {
    if (caller.via !== 'session' || !caller.session) return;
    const sent = req.headers['x-csrf-token'];
    if (typeof sent !== 'string' || !equal(sent, caller.session.csrf))
      throw new BrrError(
        'csrf_failed',
        'this write lacks the X-CSRF-Token header of the session, or it does not match',
        {
          hint: 'send the csrf value GET /api/session answers with as the X-CSRF-Token header',
        },
      );
  }
}

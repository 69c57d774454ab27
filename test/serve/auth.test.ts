/**
 * The console's authentication rules with a test clock: the failed-login window (5 a minute
 * per address, then 429 with Retry-After until the oldest failure ages out), session expiry,
 * sessions dying with their token, and CSRF on cookie writes only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createToken, revokeToken, TokenVerifier } from '../../src/app/tokens.js';
import { homePaths } from '../../src/core/home.js';
import { Authenticator, SESSION_TTL_MS } from '../../src/serve/auth.js';

let dir: string;
let now = 1_000_000;
const ctx = () => ({ paths: homePaths(dir), actor: 't', clock: { now: () => new Date(now) } });
const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'brr-auth-'));
  now = 1_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('console authentication', () => {
  it('limits failed logins per address to 5 a minute, for valid tokens too, then forgets them', () => {
    const good = createToken(ctx(), 'good', 'viewer').token;
    const auth = new Authenticator(new TokenVerifier(dir), () => now);
    for (let i = 0; i < 5; i++) {
      now += 1000;
      expect(() => auth.login('10.0.0.1', 'brr_nope')).toThrow(expect.objectContaining({ code: 'unauthorized' }));
    }
    let err: unknown;
    try {
      auth.authenticate(req({ authorization: `Bearer ${good}` }), '10.0.0.1');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'rate_limited', details: { retryAfterS: 56 } });
    expect(auth.authenticate(req({ authorization: `Bearer ${good}` }), '10.0.0.2').name).toBe('good');
    now += 56_000; // the first failure is now older than a minute
    expect(auth.authenticate(req({ authorization: `Bearer ${good}` }), '10.0.0.1').name).toBe('good');
    expect(() => auth.login('10.0.0.1', 'brr_nope')).toThrow(expect.objectContaining({ code: 'unauthorized' }));
    expect(() => auth.login('10.0.0.1', good)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('ends sessions when they expire or their token is revoked; CSRF only on cookie writes', () => {
    const t = createToken(ctx(), 'ops', 'deployer').token;
    const auth = new Authenticator(new TokenVerifier(dir), () => now);
    const s = auth.login('127.0.0.1', t);
    const cookie = `other=1; brr_session=${s.id}`;
    const caller = auth.authenticate(req({ cookie }), '127.0.0.1');
    expect(caller).toMatchObject({ name: 'ops', role: 'deployer', via: 'session' });
    expect(() => auth.checkCsrf(caller, req({ cookie }))).toThrow(expect.objectContaining({ code: 'csrf_failed' }));
    expect(() => auth.checkCsrf(caller, req({ cookie, 'x-csrf-token': s.csrf }))).not.toThrow();
    const bearer = auth.authenticate(req({ authorization: `Bearer ${t}` }), '127.0.0.1');
    expect(() => auth.checkCsrf(bearer, req({}))).not.toThrow();
    expect(() => auth.authorize(bearer, 'admin')).toThrow(expect.objectContaining({ code: 'forbidden' }));
    now += SESSION_TTL_MS;
    expect(() => auth.authenticate(req({ cookie }), '127.0.0.1')).toThrow(
      expect.objectContaining({ code: 'unauthorized' }),
    );
    const s2 = auth.login('127.0.0.1', t);
    revokeToken(ctx(), 'ops');
    expect(() => auth.authenticate(req({ cookie: `brr_session=${s2.id}` }), '127.0.0.1')).toThrow(
      expect.objectContaining({ code: 'unauthorized', message: expect.stringContaining('revoked') }),
    );
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../e2e/harness.js';
import {
  TEST_PASSWORD,
  TEST_USER,
  skopeoInspect,
  startRegistry,
  startTokenServer,
  writeAuthFile,
  type TestRegistry,
  type TokenServer,
} from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * Registry auth through the CLI: Basic (docker-registry's htpasswd) and the Bearer token flow
 * (docker-registry verifying JWTs from a token server of our own), credentials read from
 * REGISTRY_AUTH_FILE; wrong credentials fail with `registry_unauthorized` and the password
 * appears nowhere; plain HTTP to a non-loopback host is refused before any network traffic.
 */

const skip = missingTool('docker-registry') ?? missingTool('skopeo') ?? missingTool('openssl');
const SPY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'connect-spy.mjs');
const WRONG = 'not-the-password-9f3k';

describe.skipIf(!!skip)('registry auth', () => {
  let basic: TestRegistry;
  let token: TestRegistry;
  let tokens: TokenServer;
  let s: Sandbox;
  let digest: string;
  let dir: string;
  const anon = () => ({
    REGISTRY_AUTH_FILE: path.join(dir, 'none.json'),
    HOME: dir,
    XDG_RUNTIME_DIR: dir,
    DOCKER_CONFIG: dir,
  });
  const withAuth = (host: string, password: string) => ({
    ...anon(),
    REGISTRY_AUTH_FILE: writeAuthFile(dir, host, TEST_USER, password),
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'brr-auth-'));
    tokens = await startTokenServer();
    [basic, token, s] = await Promise.all([
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ auth: tokens }),
      Sandbox.create(),
    ]);
    digest = (await s.json<{ digest: string }>(['build'])).digest;
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop(), tokens?.stop(), s?.cleanup()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('Basic: pushes with credentials from REGISTRY_AUTH_FILE', async () => {
    const r = await s.brr(['push', '--to', `${basic.host}/nf/app:v1`], { env: withAuth(basic.host, TEST_PASSWORD) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${basic.host}/nf/app@${digest}`);
    expect(skopeoInspect(`${basic.host}/nf/app:v1`, ['--creds', `${TEST_USER}:${TEST_PASSWORD}`]).Digest).toBe(digest);
  });

  it('Basic: wrong credentials → exit 1, registry_unauthorized, password nowhere in the output', async () => {
    const r = await s.brr(['push', '--to', `${basic.host}/nf/app:v2`, '--json'], { env: withAuth(basic.host, WRONG) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('registry_unauthorized');
    expect(r.stderr).toMatch(/credentials were rejected/);
    for (const secret of [WRONG, Buffer.from(`${TEST_USER}:${WRONG}`).toString('base64')])
      expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('Basic: no credentials at all → registry_unauthorized with a login hint', async () => {
    const r = await s.brr(['pull', `${basic.host}/nf/app:v1`], { env: { ...anon(), BRR_HOME: path.join(dir, 'h1') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/requires credentials/);
    expect(r.stderr).toMatch(/podman login/);
  });

  it('Bearer: the token flow pushes and pulls, asking for pull,push scope', async () => {
    const env = withAuth(token.host, TEST_PASSWORD);
    const r = await s.brr(['push', '--to', `${token.host}/nf/app:v1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ digest, blobsPushed: 2 });
    expect(tokens.requests.some((q) => q.authenticated && q.scopes.includes('repository:nf/app:pull,push'))).toBe(true);
    const p = await s.brr(['pull', `${token.host}/nf/app:v1`, '--json'], {
      env: { ...env, BRR_HOME: path.join(dir, 'h2') },
    });
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).digest).toBe(digest);
  });

  it('Bearer: a push to another repository mounts the blobs, with a token that may pull from the first', async () => {
    const env = withAuth(token.host, TEST_PASSWORD);
    const first = await s.brr(['push', '--to', `${token.host}/nf/src:v1`, '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    const r = await s.brr(['push', '--to', `${token.host}/nf/copy:v1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ digest, blobsPushed: 0, blobsMounted: 2 });
    expect(tokens.requests.some((q) => q.authenticated && q.scopes.includes('repository:nf/src:pull'))).toBe(true);
    // (Not skopeo here: a synchronous child would block this process, which serves the tokens.)
    const p = await s.brr(['pull', `${token.host}/nf/copy:v1`, '--json'], {
      env: { ...env, BRR_HOME: path.join(dir, 'h3') },
    });
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).digest).toBe(digest);
  });

  it('Bearer: wrong credentials are refused by the token service → registry_unauthorized', async () => {
    const r = await s.brr(['push', '--to', `${token.host}/nf/app:v3`, '--json'], { env: withAuth(token.host, WRONG) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('registry_unauthorized');
    expect(r.stdout + r.stderr).not.toContain(WRONG);
  });

  it('plain HTTP to a non-loopback registry is refused without --insecure, before any connection or DNS lookup', async () => {
    const spy = { NODE_OPTIONS: `--import=${SPY}` };
    const r = await s.brr(['push', '--to', 'http://registry.invalid:5000/nf/app:v1', '--json'], {
      env: { ...anon(), ...spy },
    });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('registry_insecure');
    expect(r.stderr).not.toContain('BRR-TEST-NETWORK');
    const pull = await s.brr(['pull', 'http://registry.invalid/nf/app:v1'], { env: { ...anon(), ...spy } });
    expect(pull.code).toBe(2);
    expect(pull.stderr).not.toContain('BRR-TEST-NETWORK');
    // The spy works: a loopback push does report its connections.
    const ok = await s.brr(['push', '--to', `${basic.host}/nf/app:v1`], {
      env: { ...withAuth(basic.host, TEST_PASSWORD), ...spy },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`BRR-TEST-NETWORK connect 127.0.0.1:${basic.host.split(':')[1]}`);
  });
});

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../e2e/harness.js';

/**
 * Debian's docker-registry (the CNCF distribution registry) started by the test on 127.0.0.1,
 * with its own config and storage in a temp dir: anonymous, htpasswd (Basic) or token (Bearer)
 * auth. For token auth, a small token server written here signs JWTs the registry verifies
 * against a certificate made with openssl.
 */

export const TEST_USER = 'tester';
export const TEST_PASSWORD = 'brr-test-pass';
/** bcrypt (cost 4, for speed: the registry checks it on every request) of TEST_PASSWORD. */
const TEST_BCRYPT = '$2b$04$abcdefghijklmnopqrstuud02Uk5nvHmI0XkcFelc33RZGeztgrQy';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Scopes asked for, one entry per token request (credentials never recorded). */
  requests: Array<{ scopes: string[]; authenticated: boolean }>;
  stop(): Promise<void>;
}

async function waitForRegistry(host: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited ${child.exitCode}: ${readFileSync(log, 'utf8')}`);
    try {
      await fetch(`http://${host}/v2/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`docker-registry did not answer on ${host}: ${readFileSync(log, 'utf8')}`);
}

export async function startRegistry(opts: { auth?: 'htpasswd' | TokenServer } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.auth === 'htpasswd') {
    writeFileSync(path.join(dir, 'htpasswd'), `${TEST_USER}:${TEST_BCRYPT}\n`);
    auth = `auth:\n  htpasswd:\n    realm: brr-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (opts.auth) {
    const t = opts.auth;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certFile}\n`;
  }
  const config = `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: brr-test-secret\n${auth}`;
  writeFileSync(path.join(dir, 'config.yml'), config);
  const log = path.join(dir, 'registry.log');
  writeFileSync(log, '');
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => writeFileSync(log, d, { flag: 'a' }));
  child.stderr!.on('data', (d: Buffer) => writeFileSync(log, d, { flag: 'a' }));
  await waitForRegistry(host, child, log);
  return {
    host,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A token server for the Docker token flow: Basic credentials in, an ES256 JWT out. */
export async function startTokenServer(): Promise<TokenServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], {
    stdio: 'ignore',
  });
  execFileSync(
    'openssl',
    ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=brr-test-token'],
    { stdio: 'ignore' },
  );
  const key = createPrivateKey(readFileSync(keyFile));
  const der = Buffer.from(
    readFileSync(certFile, 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  );
  const service = 'brr-test-registry';
  const issuer = 'brr-test-issuer';
  const requests: TokenServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const authenticated =
      basic !== undefined && Buffer.from(basic, 'base64').toString('utf8') === `${TEST_USER}:${TEST_PASSWORD}`;
    requests.push({ scopes, authenticated });
    if (!authenticated) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: TEST_USER,
        aud: service,
        exp: now + 600,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const sig = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: `${header}.${claims}.${b64url(sig)}`, expires_in: 600 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    async stop() {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a containers-auth.json with `auth` for `host` (user:password base64); returns its path. */
export function writeAuthFile(dir: string, host: string, user: string, password: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `auth-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }),
  );
  return file;
}

/** `skopeo inspect` of a reference on a test registry (plain HTTP). */
export function skopeoInspect(ref: string, extra: string[] = []): Record<string, unknown> {
  return JSON.parse(
    execFileSync('skopeo', ['inspect', '--tls-verify=false', ...extra, `docker://${ref}`], { encoding: 'utf8' }),
  ) as Record<string, unknown>;
}

/** skopeo's raw manifest bytes (exactly what the registry stores). */
export function skopeoRaw(ref: string, extra: string[] = []): string {
  return execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...extra, `docker://${ref}`], {
    encoding: 'utf8',
  });
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composeContainerConfig, mergeEnv } from '../../src/build/base-image.js';
import { parseManifest } from '../../src/manifest/load.js';
import { fetchToken, parseChallenge, tokenScopes } from '../../src/registry/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import type { Transport } from '../../src/registry/http.js';
import { authFiles, credentialsIn, findCredentials } from '../../src/registry/credentials.js';
import { parsePlatform, selectPlatform, type IndexEntry } from '../../src/registry/media-types.js';
import { formatImageRef, isLoopback, parseImageRef, registryScheme } from '../../src/registry/reference.js';

/** The pure parts of the registry client: references, transport, challenges, credentials, platforms, config. */

const D = `sha256:${'a'.repeat(64)}`;
const noTransport: Transport = () => {
  throw new Error('no request may be made');
};

describe('image references', () => {
  it.each([
    [
      '127.0.0.1:5000/team/upf:v1',
      { registry: '127.0.0.1:5000', repository: 'team/upf', tag: 'v1', digest: null, scheme: null },
    ],
    [`localhost:5000/upf@${D}`, { registry: 'localhost:5000', repository: 'upf', tag: null, digest: D }],
    [`reg.example.com/a/b/c:1.2@${D}`, { registry: 'reg.example.com', repository: 'a/b/c', tag: '1.2', digest: D }],
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: null }],
    ['team/app:1', { registry: 'docker.io', repository: 'team/app', tag: '1' }],
    [
      'http://registry.invalid:5000/nf/app',
      { registry: 'registry.invalid:5000', repository: 'nf/app', scheme: 'http' },
    ],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
  ])('%s', (input, want) => expect(parseImageRef(input)).toMatchObject(want));

  it.each([
    ['Reg.io/UPPER'],
    ['reg.io/'],
    ['reg.io/a:b:c'],
    ['reg.io/a@sha256:short'],
    ['http://app'],
    ['reg.io/a:-bad'],
  ])('%s is refused with exit code 2', (input) => {
    expect(() => parseImageRef(input)).toThrow(
      expect.objectContaining({ code: 'registry_reference_invalid', exitCode: 2 }),
    );
  });

  it('a push target takes no digest; formatting round-trips', () => {
    expect(() => parseImageRef(`reg.io/a@${D}`, { allowDigest: false })).toThrow(
      expect.objectContaining({ code: 'registry_reference_invalid' }),
    );
    expect(formatImageRef(parseImageRef('reg.io/a/b:v1'))).toBe('reg.io/a/b:v1');
    expect(formatImageRef({ registry: 'reg.io', repository: 'a', tag: 'v1', digest: D })).toBe(`reg.io/a@${D}`);
  });
});

describe('transport: loopback is plain HTTP, anything else HTTPS unless --insecure', () => {
  it.each([
    ['127.0.0.1:5000', true],
    ['127.8.9.10', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['10.0.0.1:5000', false],
    ['localhost.example.com', false],
    ['128.0.0.1', false],
  ])('%s loopback=%s', (registry, loop) => expect(isLoopback(registry)).toBe(loop));

  it.each([
    ['127.0.0.1:5000/a', false, 'http'],
    ['reg.example.com/a', false, 'https'],
    ['reg.example.com/a', true, 'http'],
    ['https://127.0.0.1:5000/a', false, 'https'],
    ['http://reg.example.com/a', true, 'http'],
  ])('%s insecure=%s → %s', (ref, insecure, scheme) =>
    expect(registryScheme(parseImageRef(ref), insecure)).toBe(scheme),
  );

  it('explicit http:// to a non-loopback host is refused before any request', async () => {
    await expect(
      RegistryClient.open({
        ref: parseImageRef('http://registry.invalid/a'),
        actions: ['pull'],
        credentials: null,
        transport: noTransport,
      }),
    ).rejects.toMatchObject({ code: 'registry_insecure', exitCode: 2 });
  });

  it('credentials are never sent to a plain-HTTP token realm off loopback', async () => {
    const req = {
      realm: 'http://auth.invalid/token',
      service: 's',
      scopes: [],
      credentials: { username: 'u', password: 'p' },
      registry: 'reg.io',
      insecure: false,
      transport: noTransport,
    };
    await expect(fetchToken(req, null)).rejects.toMatchObject({ code: 'registry_insecure' });
  });
});

describe('WWW-Authenticate', () => {
  it('parses Bearer with a comma inside a quoted scope', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.io/token', service: 'registry.io', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="brr-test"')).toEqual({ scheme: 'basic', params: { realm: 'brr-test' } });
    expect(parseChallenge('Bearer realm=unquoted, service="s"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'unquoted', service: 's' },
    });
  });
  it('token scopes add the actions this client needs', () => {
    expect(tokenScopes('repository:a:pull', 'a', ['pull', 'push'])).toEqual([
      'repository:a:pull',
      'repository:a:pull,push',
    ]);
  });
});

describe('credentials from auth files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-creds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const auth = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString('base64') });

  it('podman order first, then docker; first match wins', async () => {
    const env = {
      HOME: dir,
      REGISTRY_AUTH_FILE: path.join(dir, 'reg.json'),
      XDG_RUNTIME_DIR: path.join(dir, 'run'),
      DOCKER_CONFIG: path.join(dir, 'docker'),
    };
    expect(authFiles(env)).toEqual([
      path.join(dir, 'reg.json'),
      path.join(dir, 'run/containers/auth.json'),
      path.join(dir, '.config/containers/auth.json'),
      path.join(dir, 'docker/config.json'),
    ]);
    writeFileSync(path.join(dir, 'reg.json'), JSON.stringify({ auths: { 'other.io': auth('x', 'y') } }));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'docker'));
    writeFileSync(
      path.join(dir, 'docker', 'config.json'),
      JSON.stringify({ auths: { 'https://reg.io': auth('alice', 'pa:ss') } }),
    );
    expect(await findCredentials('reg.io', env)).toEqual({
      credentials: { username: 'alice', password: 'pa:ss' },
      file: path.join(dir, 'docker', 'config.json'),
    });
    expect(await findCredentials('nowhere.io', env)).toBeNull();
  });

  it('Docker Hub entries use the v1 URL key', () => {
    expect(credentialsIn({ auths: { 'https://index.docker.io/v1/': auth('bob', 'pw') } }, 'docker.io')).toEqual({
      username: 'bob',
      password: 'pw',
    });
    expect(credentialsIn({ auths: { 'reg.io': { auth: '' } } }, 'reg.io')).toBeNull();
  });
});

describe('platforms', () => {
  const entries: IndexEntry[] = [
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:1',
      size: 1,
      platform: { os: 'linux', architecture: 'amd64' },
    },
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:2',
      size: 1,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:3',
      size: 1,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    },
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:4',
      size: 1,
      platform: { os: 'unknown', architecture: 'unknown' },
    },
  ];
  it.each([
    ['linux/amd64', 'sha256:1'],
    ['linux/arm64', 'sha256:2'],
    ['linux/arm64/v8', 'sha256:2'],
    ['linux/arm/v7', 'sha256:3'],
    ['linux/arm/v6', null],
    ['linux/s390x', null],
  ])('%s → %s', (p, digest) => expect(selectPlatform(entries, parsePlatform(p))?.digest ?? null).toBe(digest));
  it('refuses malformed platforms', () =>
    expect(() => parsePlatform('amd64')).toThrow(expect.objectContaining({ code: 'platform_invalid' })));
});

describe('image config on a base', () => {
  it('env: ours replace the base values in place, new keys appended sorted', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1'], { Z: 'z', PATH: '/app/bin:/bin', B: 'b' })).toEqual([
      'PATH=/app/bin:/bin',
      'A=1',
      'B=b',
      'Z=z',
    ]);
  });
  it('entrypoint clears the base CMD; ports add to the base; labels layer over', () => {
    const base = {
      Entrypoint: ['/old'],
      Cmd: ['x'],
      ExposedPorts: { '80/tcp': {} },
      Labels: { a: '1', b: '1' },
      User: 'root',
    };
    const spec = {
      base: null,
      platform: null,
      entrypoint: ['/new'],
      cmd: null,
      user: null,
      ports: ['8080/tcp'],
      env: {},
    };
    expect(composeContainerConfig(base, { b: '2' }, spec)).toEqual({
      Entrypoint: ['/new'],
      ExposedPorts: { '80/tcp': {}, '8080/tcp': {} },
      Labels: { a: '1', b: '2' },
      User: 'root',
      WorkingDir: '/app',
    });
  });
});

describe('brr.yaml build.image / build.layers / build.dockerfile', () => {
  const parse = (build: string) => parseManifest(`build:\n${build}\nprocesses:\n  web: { command: x }\n`);
  it('parses a full build.image', () => {
    const m = parse(
      '  image:\n    base: reg.io/base:1\n    platform: linux/arm64\n    entrypoint: [/bin/app]\n    cmd: [--serve]\n    user: "1000:1000"\n    ports: [8080/tcp, 2152/udp]\n    env: { A: 1 }\n  layers: [node_modules, vendor/bundle]',
    );
    expect(m.build.image).toEqual({
      base: 'reg.io/base:1',
      platform: 'linux/arm64',
      entrypoint: ['/bin/app'],
      cmd: ['--serve'],
      user: '1000:1000',
      ports: ['8080/tcp', '2152/udp'],
      env: { A: '1' },
    });
    expect(m.build.layers).toEqual(['node_modules', 'vendor/bundle']);
  });
  it.each([
    ['  image:\n    ports: [8080]', 'build.image.ports[0]'],
    ['  image:\n    entrypoint: /bin/app', 'build.image.entrypoint'],
    ['  image:\n    platform: amd64', 'build.image.platform'],
    ['  image:\n    env: { "1A": x }', 'build.image.env.1A'],
    ['  image:\n    bogus: 1', 'build.image.bogus'],
    ['  layers: [../up]', 'build.layers[0]'],
    ['  dockerfile: Dockerfile\n  output: dist', 'build.output'],
  ])('%j fails naming %s', (build, at) => {
    expect(() => parse(build)).toThrow(
      expect.objectContaining({ code: 'manifest_invalid', message: expect.stringContaining(`${at}:`) }),
    );
  });
});

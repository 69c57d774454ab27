import { isIP } from 'node:net';
import { invalidInput } from '../core/errors.js';

/**
 * Image references (`registry/repo[:tag][@sha256:…]`) and the one decision about transport:
 * which scheme to use for a registry. The decision is pure and made before any connection, so a
 * refused plain-HTTP registry never sees a packet from us.
 */

export interface ImageRef {
  /** `host[:port]` as the user wrote it, lowercased; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, e.g. `team/upf` (`library/busybox` on Docker Hub). */
  repository: string;
  tag: string | null;
  digest: string | null;
  /** A scheme written explicitly (`http://host/repo`), else null. */
  scheme: 'http' | 'https' | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DOCKER_HUB = 'docker.io';

function bad(input: string, why: string): never {
  throw invalidInput(
    'registry_reference_invalid',
    `"${input}" is not an image reference: ${why}`,
    'write it as REGISTRY/REPO[:TAG] or REGISTRY/REPO@sha256:…, e.g. 127.0.0.1:5000/team/upf:v1',
  );
}

/** A registry host: a DNS name or IP literal (IPv6 in brackets), with an optional port. */
function looksLikeHost(s: string): boolean {
  return s === 'localhost' || s.includes('.') || s.includes(':') || s.startsWith('[');
}

/** Parses an image reference; names without a registry host mean Docker Hub, as with docker. */
export function parseImageRef(input: string, opts: { allowDigest?: boolean } = {}): ImageRef {
  let rest = input.trim();
  let scheme: ImageRef['scheme'] = null;
  const m = /^(https?):\/\//.exec(rest);
  if (m) {
    scheme = m[1] as 'http' | 'https';
    rest = rest.slice(m[0].length);
  }
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad(input, 'the digest must be sha256:<64 lowercase hex digits>');
    if (opts.allowDigest === false) bad(input, 'a digest is not allowed here (the pushed manifest decides it)');
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let path = rest;
  if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash).toLowerCase();
    path = rest.slice(slash + 1);
  } else if (scheme) {
    bad(input, 'a scheme needs a registry host after it');
  }
  let tag: string | null = null;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) bad(input, `"${tag}" is not a valid tag`);
  }
  if (path === '' || !path.split('/').every((c) => COMPONENT.test(c)))
    bad(input, 'the repository must be lowercase path components (letters, digits, . _ -)');
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { registry, repository: path, tag, digest, scheme };
}

/** `registry/repo@digest`, or `registry/repo:tag`, or `registry/repo`. */
export function formatImageRef(
  ref: Pick<ImageRef, 'registry' | 'repository'> & { tag?: string | null; digest?: string | null },
): string {
  const base = `${ref.registry}/${ref.repository}`;
  if (ref.digest) return `${base}@${ref.digest}`;
  return ref.tag ? `${base}:${ref.tag}` : base;
}

/** The host name without port or IPv6 brackets. */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const parts = registry.split(':');
  return parts.length === 2 ? parts[0]! : registry;
}

/** Loopback by name or literal only (no DNS): `localhost`, 127.0.0.0/8, ::1. */
export function isLoopback(registry: string): boolean {
  const host = hostOf(registry).toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Which scheme to use. Loopback registries speak plain HTTP, as Docker assumes; anything else is
 * HTTPS unless the user passes --insecure. An explicit `http://` to a non-loopback host without
 * --insecure is refused here, before any connection.
 */
export function registryScheme(ref: Pick<ImageRef, 'registry' | 'scheme'>, insecure: boolean): 'http' | 'https' {
  if (ref.scheme === 'https') return 'https';
  const loopback = isLoopback(ref.registry);
  if (ref.scheme === 'http' && !loopback && !insecure) {
    throw invalidInput(
      'registry_insecure',
      `refusing plain HTTP to ${ref.registry}: it is not a loopback address`,
      'use HTTPS, or pass --insecure if you trust every network between you and that registry',
    );
  }
  if (ref.scheme === 'http' || loopback || insecure) return 'http';
  return 'https';
}

/** The host the registry API is served from (Docker Hub's API lives on another name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Registry credentials from the files docker and podman already maintain (`podman login`,
 * `docker login`); brr never stores its own. Only inline `auth` entries are read: credential
 * helpers (`credsStore`, `credHelpers`) are programs brr does not run.
 */

export interface Credentials {
  username: string;
  password: string;
}

/** The auth files in the order podman searches them, then docker's. */
export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'containers', 'auth.json'));
  files.push(path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'config.json'));
  return files;
}

/** Keys an `auths` map may use for one registry (docker writes URLs, podman host names). */
function keysFor(registry: string): string[] {
  if (registry === 'docker.io')
    return ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `http://${registry}/v1/`];
}

/** Decodes an `auth` value (base64 of `user:password`); null when malformed. */
export function decodeAuth(auth: string): Credentials | null {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Credentials for `registry` from parsed auth-file JSON, or null. */
export function credentialsIn(json: unknown, registry: string): Credentials | null {
  const auths = (json as { auths?: Record<string, { auth?: unknown }> } | null)?.auths;
  if (!auths || typeof auths !== 'object') return null;
  for (const key of keysFor(registry)) {
    const entry = auths[key];
    if (entry && typeof entry.auth === 'string' && entry.auth !== '') {
      const c = decodeAuth(entry.auth);
      if (c) return c;
    }
  }
  return null;
}

/**
 * The first credentials for `registry` found in the auth files. A missing or unreadable file is
 * skipped, as podman does; the file names are returned for hints, never the secrets.
 */
export async function findCredentials(
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ credentials: Credentials; file: string } | null> {
  for (const file of authFiles(env)) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    const credentials = credentialsIn(json, registry);
    if (credentials) return { credentials, file };
  }
  return null;
}

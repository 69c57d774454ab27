/**
 * The dashboard's files, served from the repository's `dashboard/` directory at `/` and
 * `/assets/*`: the page holds no data (it asks the API), so it needs no authentication. Only
 * files under that directory are served (no `..`, no symlinks out, no dotfiles), with their
 * content type, `nosniff` and a CSP that allows nothing but this origin.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dashboard/ beside src/ and dist/ (this file is src/serve/static.ts or dist/serve/static.js). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export const STATIC_HEADERS = {
  'Content-Security-Policy': "default-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** The file for a URL path (`/` is index.html), or null when there is none to serve. */
export async function staticFile(dir: string, urlPath: string): Promise<{ body: Buffer; type: string } | null> {
  let rel: string;
  try {
    rel = urlPath === '/' ? 'index.html' : decodeURIComponent(urlPath.replace(/^\/+/, ''));
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.split('/').some((p) => p === '..' || p.startsWith('.'))) return null;
  try {
    const root = await realpath(dir);
    const file = await realpath(path.join(root, rel));
    if (!file.startsWith(root + path.sep)) return null;
    if (!(await stat(file)).isFile()) return null;
    return {
      body: await readFile(file),
      type: TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    };
  } catch {
    return null;
  }
}

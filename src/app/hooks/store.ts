/**
 * `brr hooks add|list|remove`: the webhooks of a brr home, kept in `<home>/hooks.json` (0600,
 * since it holds each hook's secret). A hook is a URL, the events it wants and the secret its
 * payloads are signed with. `list` never returns a secret; `add` returns it only when it made one.
 *
 * A new hook starts at the ledger's current position: it is told of what happens from now on,
 * never of the past (`startAfter`, the head of every app's chains when it was added).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BrrError, invalidInput, notFound } from '../../core/errors.js';
import type { Context } from '../context.js';
import { hookFiles, writePrivateFile } from './files.js';
import { ensureCursor, readCursor } from './cursor.js';
import { chainHeads, type ChainPositions } from '../ledger-follow.js';

export const HOOK_EVENTS = ['release', 'run', 'rollback', 'failure'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export interface Hook {
  id: string;
  url: string;
  events: HookEvent[];
  /** HMAC-SHA256 key of the payload signatures. Never printed after `add`. */
  secret: string;
  createdAt: string;
  createdBy: string;
  /** Per app: the last release and event seq that existed when the hook was added. */
  startAfter: Record<string, ChainPositions>;
}

/** A hook as `list` shows it: no secret, and no password in the URL. */
export interface PublicHook {
  id: string;
  url: string;
  events: HookEvent[];
  createdAt: string;
  createdBy: string;
}

export interface AddHookInput {
  url: string;
  /** Comma-separated or a list; default every event. */
  events?: string | string[];
  /** The secret's text (e.g. read from --secret-file); default a new random one. */
  secret?: string;
}

export interface AddedHook extends PublicHook {
  /** Set only when brr generated the secret: shown this once. */
  secret?: string;
  /** Set when the URL is plain http to a host that is not loopback. */
  warning?: string;
}

const MIN_SECRET_BYTES = 16;

/** Pure: checks a hook URL; returns a warning for plain http beyond loopback. */
export function checkHookUrl(raw: string): { url: string; warning: string | null } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalidInput(
      'hook_url_invalid',
      `not a URL: ${JSON.stringify(redactUrl(raw))}`,
      'e.g. https://hooks.example.com/brr',
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalidInput(
      'hook_url_invalid',
      `a webhook URL must be http:// or https://, not ${u.protocol}`,
      'e.g. https://hooks.example.com/brr',
    );
  if (u.hash) throw invalidInput('hook_url_invalid', 'a webhook URL has no #fragment', 'remove the part after #');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  const warning =
    u.protocol === 'http:' && !loopback
      ? `${u.host} is reached over plain http: payloads travel unencrypted (they are signed, not hidden); prefer https`
      : null;
  return { url: u.toString(), warning };
}

/** Pure: `release,run` → ['release', 'run'], checked and deduplicated. */
export function parseHookEvents(input: string | string[] | undefined): HookEvent[] {
  const words = (Array.isArray(input) ? input : (input ?? HOOK_EVENTS.join(',')).split(','))
    .map((w) => w.trim())
    .filter((w) => w !== '');
  const bad = words.filter((w) => !(HOOK_EVENTS as readonly string[]).includes(w));
  if (words.length === 0 || bad.length > 0)
    throw invalidInput(
      'hook_events_invalid',
      words.length === 0 ? '--events names no event' : `unknown hook event(s): ${bad.join(', ')}`,
      `choose among ${HOOK_EVENTS.join(', ')} (comma-separated)`,
    );
  return HOOK_EVENTS.filter((e) => words.includes(e));
}

/** A URL with any password replaced, safe to print. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return raw.replace(/\/\/[^/@]*@/, '//***@');
  }
}

/** Reads the hooks of a home (none when hooks.json does not exist). */
export function readHooks(home: string): Hook[] {
  const file = hookFiles(home).hooks;
  if (!existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BrrError('hooks_file_invalid', `${file} is not valid JSON (${(e as Error).message})`, {
      hint: `fix or remove ${file} (it holds the webhooks and their secrets)`,
    });
  }
  const hooks = (parsed as { hooks?: unknown }).hooks;
  if (!Array.isArray(hooks) || !hooks.every(isHook))
    throw new BrrError('hooks_file_invalid', `${file} does not hold a list of webhooks`, {
      hint: `fix or remove ${file}`,
    });
  return hooks;
}

function isHook(h: unknown): h is Hook {
  const o = h as Hook;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.id === 'string' &&
    typeof o.url === 'string' &&
    typeof o.secret === 'string' &&
    Array.isArray(o.events) &&
    typeof o.startAfter === 'object' &&
    o.startAfter !== null
  );
}

function writeHooks(home: string, hooks: Hook[]): void {
  writePrivateFile(hookFiles(home).hooks, `${JSON.stringify({ version: 1, hooks }, null, 2)}\n`);
}

export function publicHook(h: Hook): PublicHook {
  return { id: h.id, url: redactUrl(h.url), events: h.events, createdAt: h.createdAt, createdBy: h.createdBy };
}

/** Pure: checks a secret given by the user (trailing newline of a file dropped). */
export function checkSecret(text: string): string {
  const secret = text.replace(/\r?\n$/, '');
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES)
    throw invalidInput(
      'hook_secret_invalid',
      `the webhook secret is ${secret === '' ? 'empty' : `shorter than ${MIN_SECRET_BYTES} bytes`}`,
      'use a long random secret, e.g. `openssl rand -hex 32 > secret`',
    );
  return secret;
}

/** Reads a secret file for `--secret-file`; its content never appears in an error. */
export function readSecretFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidInput(
      'hook_secret_invalid',
      `cannot read the secret file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'give a readable file holding the secret',
    );
  }
  return checkSecret(text);
}

/** `brr hooks add`. */
export async function addHook(ctx: Context, input: AddHookInput): Promise<AddedHook> {
  const { url, warning } = checkHookUrl(input.url);
  const events = parseHookEvents(input.events);
  const generated = input.secret === undefined;
  const secret = generated ? `whsec_${randomBytes(32).toString('base64url')}` : checkSecret(input.secret as string);
  const home = ctx.paths.root;
  const hooks = readHooks(home);
  const startAfter: Record<string, ChainPositions> = {};
  // Paged from the dispatcher's position when it has one: the heads are at or after it.
  const cursor = readCursor(hookFiles(home).cursor);
  for (const app of await ctx.ledger.listApps()) startAfter[app] = await chainHeads(ctx.ledger, app, cursor?.apps[app]);
  const hook: Hook = {
    id: `hook-${randomBytes(4).toString('hex')}`,
    url,
    events,
    secret,
    createdAt: ctx.clock.now().toISOString(),
    createdBy: ctx.actor,
    startAfter,
  };
  writeHooks(home, [...hooks, hook]);
  // The dispatcher's first pass starts where the hook starts, not at whatever is newest by then.
  await ensureCursor(ctx);
  return { ...publicHook(hook), ...(generated ? { secret } : {}), ...(warning ? { warning } : {}) };
}

/** `brr hooks list`: never a secret. */
export function listHooks(home: string): PublicHook[] {
  return readHooks(home).map(publicHook);
}

/** `brr hooks remove ID`. Pending deliveries of the hook are dropped by the dispatcher. */
export function removeHook(home: string, id: string): PublicHook {
  const hooks = readHooks(home);
  const hook = hooks.find((h) => h.id === id);
  if (!hook)
    throw notFound(
      'hook_not_found',
      `no webhook ${JSON.stringify(id)}`,
      hooks.length > 0 ? `webhooks: ${hooks.map((h) => h.id).join(', ')}` : 'this home has no webhooks',
    );
  writeHooks(
    home,
    hooks.filter((h) => h.id !== id),
  );
  return publicHook(hook);
}

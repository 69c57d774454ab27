/**
 * What a webhook is told, as data: which hook event a ledger entry is (if any), the JSON
 * payload, its HMAC-SHA256 signature and the request headers. Pure, so tests and docs agree
 * on exact bytes; dispatch.ts does the sending.
 *
 * Every ledger entry maps to at most one hook event:
 *  - a release with `rollbackOf` (a `brr rollback`)            → `rollback`
 *  - any other release (deploy, config change, promote …)      → `release`
 *  - the event `activated` (a release took over)               → `run`
 *  - the event `rolled-back` (the run stage restored a release) → `rollback`
 *  - the events `failed` and `release-phase-failed`            → `failure`
 */
import { createHmac } from 'node:crypto';
import type { ChainEntry } from '../ledger-follow.js';
import type { HookEvent } from './store.js';

export interface HookPayload {
  /** `app/release/seq` or `app/event/seq`: the same for every attempt and every hook (deduplicate on it). */
  id: string;
  event: HookEvent;
  app: string;
  /** The release the entry is about (`vN`), or null. */
  release: string | null;
  /** When the ledger entry was written (ISO). */
  at: string;
  actor: string;
  detail: Record<string, unknown>;
  /** Unix seconds when this attempt was sent; equal to the X-Brr-Timestamp header, and signed with the body. */
  timestamp: number;
}

/** Pure: the hook event of a ledger entry, or null when hooks are not told of it. */
export function hookEventOf(entry: ChainEntry): HookEvent | null {
  if (entry.kind === 'release') return entry.body.rollbackOf ? 'rollback' : 'release';
  switch (entry.body.type) {
    case 'activated':
      return 'run';
    case 'rolled-back':
      return 'rollback';
    case 'failed':
    case 'release-phase-failed':
      return 'failure';
    default:
      return null;
  }
}

/** Pure: the payload of an entry, without the send time. Never carries config (it may hold secrets). */
export function buildPayload(entry: ChainEntry, event: HookEvent): Omit<HookPayload, 'timestamp'> {
  const b = entry.body;
  const id = `${b.app}/${entry.kind}/${b.seq}`;
  if (entry.kind === 'release') {
    const r = entry.body;
    return {
      id,
      event,
      app: r.app,
      release: r.id,
      at: r.createdAt,
      actor: r.actor,
      detail: {
        kind: 'release',
        seq: r.seq,
        cause: r.cause,
        message: r.message,
        rollbackOf: r.rollbackOf,
        build: { digest: r.build.digest, commit: r.build.commit },
        formation: r.formation,
      },
    };
  }
  const e = entry.body;
  return {
    id,
    event,
    app: e.app,
    release: e.release,
    at: e.createdAt,
    actor: e.actor,
    detail: { kind: 'event', seq: e.seq, type: e.type, data: e.detail },
  };
}

/** Pure: `sha256=<hex HMAC-SHA256 of body with secret>`. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Pure: the body and headers of one attempt. */
export function buildRequest(
  payload: Omit<HookPayload, 'timestamp'>,
  secret: string,
  now: Date,
  userAgent: string,
): { body: string; headers: Record<string, string> } {
  const timestamp = Math.floor(now.getTime() / 1000);
  const body = JSON.stringify({ ...payload, timestamp });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'x-brr-event': payload.event,
      'x-brr-delivery': payload.id,
      'x-brr-timestamp': String(timestamp),
      'x-brr-signature': signBody(secret, body),
    },
  };
}

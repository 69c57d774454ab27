import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { BrrError, invalidInput } from '../core/errors.js';
import {
  EVENT_TYPES as ALL_EVENT_TYPES,
  type EventBody,
  type EventType,
  type LedgerEvent,
  type Release,
  type ReleaseBody,
} from '../core/types.js';
import type { NewEvent, ReleaseDraft } from './ledger.js';

/**
 * Turning a caller's draft into the exact text a ledger stores and hashes. Every driver seals
 * through here, so SQLite and PostgreSQL write byte-identical bodies and a history exported
 * from one verifies in the other. The stored text is the record; parsed objects are views.
 */

/** A body ready to insert: its canonical text and the hex sha256 of that text. */
export interface Sealed<T> {
  body: T;
  text: string;
  hash: string;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(ALL_EVENT_TYPES);

/** The paging options of Ledger.listReleases, checked the same way by every driver. */
export function checkListOptions(opts: { limit?: number; beforeSeq?: number }): { limit?: number; beforeSeq?: number } {
  const { limit, beforeSeq } = opts;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw invalidInput('limit_invalid', `limit must be a whole number ≥ 1, got ${String(limit)}`, 'e.g. --limit 20');
  }
  if (beforeSeq !== undefined && (!Number.isSafeInteger(beforeSeq) || beforeSeq < 1)) {
    throw invalidInput(
      'limit_invalid',
      `a page must start before a release number ≥ 1, got ${String(beforeSeq)}`,
      'e.g. before=v120',
    );
  }
  return { limit, beforeSeq };
}

export function checkApp(app: string): void {
  if (typeof app !== 'string' || app.length === 0) throw invalidInput('app_missing', 'no app given', 'pass --app NAME');
}

export function checkEventType(type: string): void {
  if (!EVENT_TYPES.has(type))
    throw invalidInput(
      'event_type_invalid',
      `unknown ledger event type ${JSON.stringify(type)}`,
      `use one of ${ALL_EVENT_TYPES.join(', ')}`,
    );
}

/** The release after `latest` (null before the first): seq, id and prevHash come from the chain, the rest from the draft. */
export function sealRelease(
  app: string,
  latest: { seq: number; hash: string } | null,
  d: ReleaseDraft,
): Sealed<ReleaseBody> {
  if (typeof d !== 'object' || d === null || typeof d.build !== 'object' || d.build === null) {
    throw new BrrError('ledger_draft_invalid', 'the release draft is not a release', {
      hint: 'this is a bug in brr; please report it',
    });
  }
  const seq = (latest?.seq ?? 0) + 1;
  // Built field by field so a draft cannot smuggle extra members into the hashed body.
  const body: ReleaseBody = {
    app,
    seq,
    id: `v${seq}`,
    build: { digest: d.build.digest, commit: d.build.commit },
    config: d.config,
    formation: d.formation,
    cause: d.cause,
    message: d.message ?? null,
    actor: d.actor,
    createdAt: d.createdAt,
    rollbackOf: d.rollbackOf ?? null,
    prevHash: latest?.hash ?? null,
  };
  const text = canonicalJson(body);
  return { body, text, hash: sha256Hex(text) };
}

/** The event after `latest` in the app's event chain. */
export function sealEvent(app: string, latest: { seq: number; hash: string } | null, e: NewEvent): Sealed<EventBody> {
  checkEventType(e.type);
  const body: EventBody = {
    app,
    seq: (latest?.seq ?? 0) + 1,
    type: e.type,
    release: e.release ?? null,
    detail: e.detail,
    actor: e.actor,
    createdAt: e.createdAt,
    prevHash: latest?.hash ?? null,
  };
  const text = canonicalJson(body);
  return { body, text, hash: sha256Hex(text) };
}

// The parsed text (not the draft object) is returned, so callers see exactly what was stored;
// the hash is assigned in place: no copy per row, which counts at 100,000 rows.
export function releaseFromText(text: string, hash: string): Release {
  const release = JSON.parse(text) as Release;
  release.hash = hash;
  return release;
}

export function eventFromText(text: string, hash: string): LedgerEvent {
  const event = JSON.parse(text) as LedgerEvent;
  event.hash = hash;
  return event;
}

/** Import only starts histories: merging two chains of one app would fork it. */
export function importTargetNotEmpty(app: string, where: string): BrrError {
  return new BrrError(
    'ledger_import_not_empty',
    `${app} already has entries in ${where}; import only fills an app with no history`,
    {
      hint: "import into a fresh ledger (or an app name not used there yet); an app's history cannot be merged",
    },
  );
}

import { invalidInput } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import type { Context } from './context.js';

/**
 * `brr audit` and the `--actor`/`--since` filters of `brr releases`: who did what, when, merged
 * from releases and events of every app. Summaries are built from known detail fields only, so
 * an event can never print a config value, a secret or a process's log tail.
 */

export interface AuditFilter {
  /** `alice@host` matches exactly; `alice` (no @) matches every host of user alice. */
  actor?: string;
  /** Entries at or after this time. */
  since?: Date;
}

export interface AuditEntry {
  at: string;
  app: string;
  actor: string;
  kind: 'release' | 'event';
  /** 'release' or the event type. */
  action: string;
  release: string | null;
  /** Cause of a release, or a short, secret-free summary of an event. */
  summary: string;
  seq: number;
}

const RELATIVE_RE = /^(\d+)(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO_RE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/** `--since`: an ISO date or time (`2026-01-02`, `2026-01-02T03:04:05Z`), or a duration back from `now` (`90m`, `24h`, `7d`, `2w`). */
export function parseSince(text: string, now: Date): Date {
  const t = text.trim();
  const rel = RELATIVE_RE.exec(t);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  const ms = ISO_RE.test(t) ? Date.parse(t) : NaN;
  if (Number.isNaN(ms)) {
    throw invalidInput(
      'since_invalid',
      `--since "${text}" is neither an ISO date nor a duration`,
      'e.g. --since 2026-01-02, --since 2026-01-02T09:00:00Z, --since 24h or --since 7d',
    );
  }
  return new Date(ms);
}

/** Whether `actor` is matched by the filter's actor (see AuditFilter.actor). */
export function actorMatches(actor: string, wanted: string): boolean {
  if (actor === wanted) return true;
  return !wanted.includes('@') && actor.startsWith(`${wanted}@`);
}

function keep(at: string, actor: string, f: AuditFilter): boolean {
  if (f.actor !== undefined && !actorMatches(actor, f.actor)) return false;
  return f.since === undefined || Date.parse(at) >= f.since.getTime();
}

/** Releases by the filter's actor and at or after its time, order kept. */
export function filterReleases<R extends Pick<Release, 'actor' | 'createdAt'>>(
  releases: readonly R[],
  filter: AuditFilter,
): R[] {
  return releases.filter((r) => keep(r.createdAt, r.actor, filter));
}

/** One line, at most 120 characters: details are for people scanning a log. */
function short(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function keysOf(v: unknown): string[] {
  if (Array.isArray(v))
    return v.map((x) => (typeof x === 'string' ? x : short((x as { keyId?: unknown })?.keyId))).filter(Boolean);
  return typeof v === 'object' && v !== null ? Object.keys(v).sort() : [];
}

/** A secret-free summary of an event: only fields known to hold names, ids, codes or reasons. */
export function summarizeEvent(e: Pick<LedgerEvent, 'type' | 'detail'>): string {
  const d = e.detail;
  const join = (...parts: string[]) => parts.filter(Boolean).join('; ');
  switch (e.type) {
    case 'config-staged': {
      // Only key names: staged values may be secrets.
      const set = keysOf(d.set);
      const unset = keysOf(d.unset);
      return join(set.length ? `set ${set.join(', ')}` : '', unset.length ? `unset ${unset.join(', ')}` : '');
    }
    case 'switch-started':
      return d.from ? `from ${short(d.from)}` : '';
    case 'activated':
      return join(d.from ? `from ${short(d.from)}` : '', typeof d.durationMs === 'number' ? `${d.durationMs} ms` : '');
    case 'failed':
    case 'rolled-back':
      return short(d.reason);
    case 'lock-broken': {
      const lease = (d.lease ?? {}) as { owner?: unknown; token?: unknown };
      return `lease of ${short(lease.owner) || '?'} (token ${short(lease.token) || '?'})`;
    }
    case 'lease-taken-over': {
      const lease = (d.lease ?? {}) as { owner?: unknown; pid?: unknown; token?: unknown };
      return `lease of ${short(lease.owner) || '?'} (pid ${short(lease.pid) || '?'}, token ${short(lease.token) || '?'}): holder gone`;
    }
    case 'release-phase-succeeded':
    case 'release-phase-failed':
      return typeof d.signal === 'string' && d.signal
        ? `killed by ${d.signal}`
        : typeof d.exitCode === 'number'
          ? `exit ${d.exitCode}`
          : '';
    case 'trust-changed': {
      const add = keysOf(d.add);
      const remove = keysOf(d.remove);
      return join(add.length ? `add ${add.join(', ')}` : '', remove.length ? `remove ${remove.join(', ')}` : '');
    }
    case 'promoted':
      return `from ${short(d.fromApp)} ${short(d.fromRelease)}${typeof d.digest === 'string' ? ` (${d.digest.replace(/^sha256:/, '').slice(0, 12)})` : ''}`;
    case 'signed':
      return d.keyId ? `by ${short(d.keyId)}` : '';
    default:
      return '';
  }
}

export interface AppRecords {
  app: string;
  releases: readonly Release[];
  events: readonly LedgerEvent[];
}

/** Merged, time-ordered (oldest first) audit entries of the given apps, filtered. */
export function auditLines(records: readonly AppRecords[], filter: AuditFilter = {}): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const { app, releases, events } of records) {
    for (const r of releases) {
      if (keep(r.createdAt, r.actor, filter))
        out.push({
          at: r.createdAt,
          app,
          actor: r.actor,
          kind: 'release',
          action: 'release',
          release: r.id,
          summary: r.cause,
          seq: r.seq,
        });
    }
    for (const e of events) {
      if (keep(e.createdAt, e.actor, filter))
        out.push({
          at: e.createdAt,
          app,
          actor: e.actor,
          kind: 'event',
          action: e.type,
          release: e.release,
          summary: summarizeEvent(e),
          seq: e.seq,
        });
    }
  }
  // Same instant: by app, then the release before the events about it, then ledger order.
  const rank = (x: AuditEntry) => (x.kind === 'release' ? 0 : 1);
  return out.sort(
    (a, b) => cmp(Date.parse(a.at), Date.parse(b.at)) || cmp(a.app, b.app) || rank(a) - rank(b) || a.seq - b.seq,
  );
}

function cmp<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `brr audit`: reads every app (or one) from the ledger and merges its history. */
export async function collectAudit(ctx: Context, opts: AuditFilter & { app?: string } = {}): Promise<AuditEntry[]> {
  const apps = opts.app !== undefined ? [opts.app] : await ctx.ledger.listApps();
  const records: AppRecords[] = [];
  for (const app of apps)
    records.push({ app, releases: await ctx.ledger.listReleases(app), events: await ctx.ledger.listEvents(app) });
  return auditLines(records, opts);
}

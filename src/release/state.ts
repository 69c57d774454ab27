import type { Config, ConfigValue, LedgerEvent } from '../core/types.js';

/**
 * Current state is never stored: it is a fold over an app's events, oldest first. These folds
 * are pure so the CLI, the supervisor and both ledger drivers agree on what "current" means.
 */

/** Detail of a 'config-staged' event: config changed before the app's first release. */
export interface StagedConfigDetail {
  set: Record<string, ConfigValue>;
  unset: string[];
}

/** What `status` says about the last deploy attempt of an app. */
export interface DeployOutcome {
  /** 'in-progress' after 'switch-started' with nothing after it yet. */
  outcome: 'in-progress' | 'activated' | 'failed' | 'rolled-back' | 'stopped';
  /** The release the last switch aimed at (for 'stopped': the release that was running). */
  release: string | null;
  /** For 'rolled-back': the release that was restored and now runs. */
  restored: string | null;
  /** For 'failed' and the 'rolled-back' that follows it: why the switch failed. */
  reason: string | null;
  actor: string;
  at: string;
}

type EventLike = Pick<LedgerEvent, 'type' | 'release' | 'detail' | 'actor' | 'createdAt'>;

function isConfigValue(v: unknown): v is ConfigValue {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ConfigValue).value === 'string' &&
    typeof (v as ConfigValue).secret === 'boolean'
  );
}

/**
 * The config staged before the first release: 'config-staged' events applied in order. Events
 * are read back from a verified ledger, but a malformed member is skipped rather than trusted,
 * so one odd entry cannot inject a non-string value into a process environment.
 */
export function stagedConfig(events: readonly EventLike[]): Config {
  const config: Config = {};
  for (const e of events) {
    if (e.type !== 'config-staged') continue;
    const { set, unset } = e.detail as Partial<StagedConfigDetail>;
    if (typeof set === 'object' && set !== null) {
      for (const [key, v] of Object.entries(set))
        if (isConfigValue(v)) config[key] = { value: v.value, secret: v.secret };
    }
    if (Array.isArray(unset)) for (const key of unset) if (typeof key === 'string') delete config[key];
  }
  return sortKeys(config);
}

/**
 * The release that serves now: the one named by the last 'activated' or 'rolled-back' event
 * ('rolled-back' names the restored release), or null after 'stopped' or before any activation.
 * 'failed' alone changes nothing: the old release keeps serving until the run stage says otherwise.
 */
export function currentReleaseId(events: readonly EventLike[]): string | null {
  return events.reduce(currentAfter, null as string | null);
}

/** Pure: the current release once `e` is appended, given the current one before it (a fold step of currentReleaseId). */
export function currentAfter(current: string | null, e: Pick<EventLike, 'type' | 'release'>): string | null {
  if (e.type === 'activated' || e.type === 'rolled-back') return e.release;
  return e.type === 'stopped' ? null : current;
}

/** Whether the release phase of `release` already succeeded ('release-phase-succeeded' for its id). */
export function releasePhaseSucceeded(
  events: readonly Pick<LedgerEvent, 'type' | 'release'>[],
  release: string,
): boolean {
  return events.some((e) => e.type === 'release-phase-succeeded' && e.release === release);
}

/** The outcome of the last deploy attempt (switch, failure, rollback or stop), or null if none. */
export function lastDeployOutcome(events: readonly EventLike[]): DeployOutcome | null {
  let last = null as DeployOutcome | null;
  for (const e of events) {
    const base = { actor: e.actor, at: e.createdAt, restored: null, reason: null };
    switch (e.type) {
      case 'switch-started':
        last = { ...base, outcome: 'in-progress', release: e.release };
        break;
      case 'activated':
        last = { ...base, outcome: 'activated', release: e.release };
        break;
      case 'failed':
        last = { ...base, outcome: 'failed', release: e.release, reason: reasonOf(e.detail) };
        break;
      case 'rolled-back': {
        // Keep what failed and why: "v5 failed (reason), v4 restored" is the useful status line.
        const failed: DeployOutcome | null = last?.outcome === 'failed' ? last : null;
        last = {
          ...base,
          outcome: 'rolled-back',
          release: failed?.release ?? null,
          reason: failed?.reason ?? reasonOf(e.detail),
          restored: e.release,
        };
        break;
      }
      case 'stopped':
        last = { ...base, outcome: 'stopped', release: e.release };
        break;
      default:
        break;
    }
  }
  return last;
}

function reasonOf(detail: Record<string, unknown>): string | null {
  return typeof detail.reason === 'string' ? detail.reason : null;
}

function sortKeys(config: Config): Config {
  const out: Config = {};
  for (const key of Object.keys(config).sort()) out[key] = config[key] as ConfigValue;
  return out;
}

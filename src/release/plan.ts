import { invalidInput, notFound } from '../core/errors.js';
import type { Config, Digest, Formation, Release } from '../core/types.js';
import { validateConfigKey } from './config.js';
import type { NewEvent, ReleaseDraft } from '../core/types.js';
import type { StagedConfigDetail } from './state.js';

/**
 * Pure release planners: they read what the ledger holds, decide the next release, and touch
 * nothing. Time and actor come in as arguments so tests are exact. Run them inside
 * `Ledger.appendRelease`'s draft callback so the plan is made against the latest release.
 */

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const COMMIT_RE = /^[0-9a-f]{7,64}$/;
const RELEASE_ID_RE = /^v?([1-9][0-9]{0,14})$/;

/** Normalizes `v3` or `3` to `v3`; anything else is invalid input. */
export function parseReleaseId(input: string): string {
  const m = RELEASE_ID_RE.exec(input.trim());
  if (!m)
    throw invalidInput(
      'release_id_invalid',
      `not a release id: ${JSON.stringify(input)}`,
      'release ids look like v3 (or 3); `brr releases` lists them',
    );
  return `v${m[1]}`;
}

export interface PlanReleaseInput {
  latest: Release | null;
  /** Config staged before the first release; used only when there is no release yet. */
  staged: Config;
  build: { digest: Digest; commit: string };
  formation: Formation;
  message?: string | null;
  actor: string;
  now: Date;
  /** Default `deploy <first 7 of commit>`. */
  cause?: string;
}

/** A release of a new build: config carries over from the latest release (or the staged config). */
export function planRelease(input: PlanReleaseInput): ReleaseDraft {
  const { digest, commit } = input.build;
  if (!DIGEST_RE.test(digest))
    throw invalidInput(
      'build_digest_invalid',
      `not a build digest: ${JSON.stringify(digest)}`,
      'pass a digest as `brr builds` shows it (sha256:<64 hex>)',
    );
  if (!COMMIT_RE.test(commit))
    throw invalidInput(
      'build_commit_invalid',
      `not a git commit id: ${JSON.stringify(commit)}`,
      'builds record the full commit id; rebuild with `brr build`',
    );
  return {
    build: { digest, commit },
    config: copyConfig(input.latest?.config ?? input.staged),
    formation: checkFormation(input.formation),
    cause: input.cause ?? `deploy ${commit.slice(0, 7)}`,
    message: normalizeMessage(input.message),
    actor: input.actor,
    createdAt: input.now.toISOString(),
    rollbackOf: null,
  };
}

export interface ConfigChangeInput {
  set: Record<string, string>;
  unset: readonly string[];
  /** Marks every key in `set` secret. A key already secret stays secret (see applyConfigChange). */
  secret: boolean;
  actor: string;
  now: Date;
}

/** A config change on a released app: a new release with the same build, or null if nothing changes. */
export function planConfigChange(
  input: ConfigChangeInput & { latest: Release; message?: string | null },
): ReleaseDraft | null {
  const change = applyConfigChange(input.latest.config, input);
  if (!change) return null;
  const { latest } = input;
  return {
    build: { ...latest.build },
    config: change.config,
    formation: { ...latest.formation },
    cause: change.cause,
    message: normalizeMessage(input.message),
    actor: input.actor,
    createdAt: input.now.toISOString(),
    rollbackOf: null,
  };
}

/**
 * A config change before the app's first release: there is no build to release, so the change
 * is recorded as a 'config-staged' event, which the first release picks up. Null if nothing changes.
 */
export function planStagedConfig(input: ConfigChangeInput & { staged: Config }): NewEvent | null {
  const change = applyConfigChange(input.staged, input);
  if (!change) return null;
  const detail: StagedConfigDetail = { set: {}, unset: change.unset };
  for (const key of change.set) detail.set[key] = { ...(change.config[key] as Config[string]) };
  return {
    type: 'config-staged',
    release: null,
    detail: { ...detail },
    actor: input.actor,
    createdAt: input.now.toISOString(),
  };
}

export interface PlanRollbackInput {
  /** The app's releases, newest first. */
  releases: readonly Release[];
  /** What runs now (from the events); null means the latest release. */
  currentId: string | null;
  /** Default: the release just before the current one in sequence. */
  targetId?: string | null;
  message?: string | null;
  actor: string;
  now: Date;
}

/**
 * A rollback appends a new release copying an old one's build, config and formation (Heroku
 * and Helm semantics: `kubectl rollout undo` restoring only the image is the mistake to avoid).
 */
export function planRollback(input: PlanRollbackInput): ReleaseDraft {
  const { releases } = input;
  if (releases.length === 0)
    throw invalidInput('nothing_to_roll_back', 'the app has no releases', 'deploy a build first with `brr deploy`');
  const find = (id: string): Release => {
    const r = releases.find((x) => x.id === id);
    if (!r)
      throw notFound(
        'release_not_found',
        `release ${id} does not exist`,
        '`brr releases` lists the releases of the app',
      );
    return r;
  };
  const current = input.currentId ? find(parseReleaseId(input.currentId)) : (releases[0] as Release);
  let target: Release;
  if (input.targetId) {
    target = find(parseReleaseId(input.targetId));
    if (target.id === current.id) {
      throw invalidInput(
        'rollback_target_is_current',
        `${target.id} is already the current release`,
        'name an earlier release: `brr rollback vN` (see `brr releases`)',
      );
    }
  } else {
    const previous = releases.find((x) => x.seq === current.seq - 1);
    if (!previous)
      throw invalidInput(
        'nothing_to_roll_back',
        `${current.id} is the first release; there is nothing before it`,
        '`brr releases` lists the releases of the app',
      );
    target = previous;
  }
  return {
    build: { ...target.build },
    config: copyConfig(target.config),
    formation: { ...target.formation },
    cause: `rollback to ${target.id}`,
    message: normalizeMessage(input.message),
    actor: input.actor,
    createdAt: input.now.toISOString(),
    rollbackOf: target.id,
  };
}

interface AppliedChange {
  config: Config;
  /** Keys actually set or changed, in the order given. */
  set: string[];
  /** Keys actually removed, in the order given. */
  unset: string[];
  cause: string;
}

/**
 * Applies set/unset to a config. Secrecy is sticky: setting a secret key without `secret` keeps
 * it secret, so a forgotten flag never turns a password into plain, printable config.
 */
function applyConfigChange(base: Config, input: ConfigChangeInput): AppliedChange | null {
  const config = copyConfig(base);
  const set: string[] = [];
  const unset: string[] = [];
  for (const key of input.unset) {
    validateConfigKey(key);
    if (Object.hasOwn(input.set, key))
      throw invalidInput(
        'config_key_conflict',
        `config key ${key} is both set and unset`,
        `either set ${key} or unset it, not both`,
        { key },
      );
    if (!Object.hasOwn(config, key))
      throw invalidInput(
        'config_key_missing',
        `config key ${key} is not set`,
        '`brr config` lists the keys that are set',
        { key },
      );
    delete config[key];
    unset.push(key);
  }
  for (const [key, value] of Object.entries(input.set)) {
    validateConfigKey(key);
    const old = config[key];
    const secret = input.secret || (old?.secret ?? false);
    if (old && old.value === value && old.secret === secret) continue;
    config[key] = { value, secret };
    set.push(key);
  }
  if (set.length === 0 && unset.length === 0) return null;
  const cause = [set.length ? `set ${set.join(', ')}` : '', unset.length ? `unset ${unset.join(', ')}` : '']
    .filter(Boolean)
    .join('; ');
  return { config: copyConfig(config), set, unset, cause };
}

/** A deep copy with sorted keys, so drafts never alias the ledger's objects. */
function copyConfig(config: Config): Config {
  const out: Config = {};
  for (const key of Object.keys(config).sort()) {
    const v = config[key] as Config[string];
    out[key] = { value: v.value, secret: v.secret };
  }
  return out;
}

function checkFormation(formation: Formation): Formation {
  const out: Formation = {};
  for (const [type, scale] of Object.entries(formation)) {
    if (!Number.isSafeInteger(scale) || scale < 0) {
      throw invalidInput(
        'formation_invalid',
        `scale of ${type} must be a whole number ≥ 0, got ${String(scale)}`,
        'e.g. web=2 (0 stops the process type)',
      );
    }
    out[type] = scale;
  }
  return out;
}

function normalizeMessage(message: string | null | undefined): string | null {
  const m = message?.trim();
  return m ? m : null;
}

import type { Release } from '../core/types.js';

/**
 * What changed between two releases, safe to print and to emit as `--json`: secret values are
 * never copied into the diff, so no renderer can leak them by mistake.
 */

export interface ConfigChange {
  key: string;
  /** Absent when the key is secret on either side. */
  from?: string;
  to?: string;
  /** True when the key is secret in either release: then only "it changed" is told. */
  secret: boolean;
}

export interface FieldChange {
  from: string;
  to: string;
  changed: boolean;
}

export interface FormationChange {
  type: string;
  /** Null when the process type does not exist on that side. */
  from: number | null;
  to: number | null;
}

export interface ReleaseDiff {
  from: string;
  to: string;
  config: { added: string[]; removed: string[]; changed: ConfigChange[] };
  build: FieldChange;
  commit: FieldChange;
  formation: FormationChange[];
  /** False when nothing above differs. */
  changed: boolean;
}

/** Compares release `a` (older, usually) with release `b`. */
export function diffReleases(a: Release, b: Release): ReleaseDiff {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: ConfigChange[] = [];
  const keys = [...new Set([...Object.keys(a.config), ...Object.keys(b.config)])].sort();
  for (const key of keys) {
    const x = a.config[key];
    const y = b.config[key];
    if (!x) added.push(key);
    else if (!y) removed.push(key);
    else if (x.value !== y.value || x.secret !== y.secret) {
      changed.push(x.secret || y.secret ? { key, secret: true } : { key, from: x.value, to: y.value, secret: false });
    }
  }
  const formation: FormationChange[] = [];
  const types = [...new Set([...Object.keys(a.formation), ...Object.keys(b.formation)])].sort();
  for (const type of types) {
    const from = a.formation[type] ?? null;
    const to = b.formation[type] ?? null;
    if (from !== to) formation.push({ type, from, to });
  }
  const build = field(a.build.digest, b.build.digest);
  const commit = field(a.build.commit, b.build.commit);
  return {
    from: a.id,
    to: b.id,
    config: { added, removed, changed },
    build,
    commit,
    formation,
    changed: added.length + removed.length + changed.length + formation.length > 0 || build.changed || commit.changed,
  };
}

/** Human lines for `brr diff`; the caller adds colour if it wants. */
export function renderDiff(diff: ReleaseDiff): string[] {
  const lines = [`${diff.from} → ${diff.to}`];
  if (!diff.changed) return [...lines, '  no differences'];
  if (diff.build.changed) lines.push(`  build   ${diff.build.from} → ${diff.build.to}`);
  if (diff.commit.changed) lines.push(`  commit  ${diff.commit.from.slice(0, 12)} → ${diff.commit.to.slice(0, 12)}`);
  for (const key of diff.config.added) lines.push(`  config  + ${key}`);
  for (const key of diff.config.removed) lines.push(`  config  - ${key}`);
  for (const c of diff.config.changed) {
    // Values are shown only when the diff carries them, i.e. never for secrets.
    lines.push(
      c.secret
        ? `  config  ~ ${c.key} (secret, changed)`
        : `  config  ~ ${c.key}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`,
    );
  }
  for (const f of diff.formation) lines.push(`  scale   ${f.type}: ${f.from ?? 'none'} → ${f.to ?? 'none'}`);
  return lines;
}

function field(from: string, to: string): FieldChange {
  return { from, to, changed: from !== to };
}

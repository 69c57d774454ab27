import path from 'node:path';
import { invalidInput } from '../core/errors.js';
import type { LedgerEvent } from '../core/types.js';
import type { AppTarget, KubernetesTarget } from '../run/kubernetes/types.js';
import type { Context } from './context.js';
import { currentReleaseOf } from './current-release.js';

export type { AppTarget, KubernetesTarget } from '../run/kubernetes/types.js';

/**
 * Where each app runs: `brr apps set` appends a 'target-set' event; the current target is the
 * fold of those events (the last one wins, none means local). Like everything else in the
 * ledger, a target change is history, not a field rewritten in place.
 */

type EventLike = Pick<LedgerEvent, 'type' | 'detail'>;

const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// host[:port] then optional path segments; lowercase, no scheme, no tag, no digest.
const REGISTRY_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/;

export interface TargetFlags {
  target?: string;
  context?: string;
  namespace?: string;
  registry?: string;
  kubeconfig?: string;
}

/** Validates `brr apps set` flags into a target. Relative kubeconfig paths resolve against `cwd`. */
export function planTarget(flags: TargetFlags, cwd = process.cwd()): AppTarget {
  const target = flags.target ?? 'kubernetes';
  if (target === 'local') {
    const extra = (['context', 'namespace', 'registry', 'kubeconfig'] as const).filter((k) => flags[k] !== undefined);
    if (extra.length)
      throw invalidInput(
        'target_flags_invalid',
        `--${extra.join(', --')} only apply to --target kubernetes`,
        'run `brr apps set APP --target local` without them',
      );
    return { target: 'local' };
  }
  if (target !== 'kubernetes')
    throw invalidInput('target_invalid', `unknown target "${target}"`, 'use --target local or --target kubernetes');
  const missing = (['context', 'namespace', 'registry'] as const).filter((k) => !flags[k]);
  if (missing.length) {
    throw invalidInput(
      'target_flags_missing',
      `--target kubernetes needs --${missing.join(', --')}`,
      'e.g. brr apps set upf-prod --target kubernetes --context prod --namespace upf --registry registry.example.com/nf',
    );
  }
  const context = flags.context as string;
  const namespace = flags.namespace as string;
  const registry = (flags.registry as string).replace(/\/+$/, '');
  if ([...context].some((ch) => ch.charCodeAt(0) < 0x20))
    throw invalidInput(
      'target_context_invalid',
      'the context name has control characters',
      'copy it from `kubectl config get-contexts`',
    );
  if (!NAMESPACE_RE.test(namespace))
    throw invalidInput(
      'target_namespace_invalid',
      `namespace "${namespace}" is not a valid Kubernetes namespace name`,
      'lowercase letters, digits and dashes, at most 63',
    );
  if (!REGISTRY_RE.test(registry)) {
    throw invalidInput(
      'target_registry_invalid',
      `registry "${registry}" is not host[:port][/path] (no scheme, tag or digest)`,
      'e.g. registry.example.com/nf or 127.0.0.1:5000; brr adds /<app>@sha256:…',
    );
  }
  return {
    target: 'kubernetes',
    context,
    namespace,
    registry,
    kubeconfig: flags.kubeconfig ? path.resolve(cwd, flags.kubeconfig) : null,
  };
}

/** A 'target-set' detail read back from the ledger, or null when malformed (skipped, never trusted). */
export function targetOfDetail(detail: Record<string, unknown>): AppTarget | null {
  if (detail.target === 'local') return { target: 'local' };
  if (detail.target !== 'kubernetes') return null;
  const { context, namespace, registry, kubeconfig } = detail;
  if (typeof context !== 'string' || typeof namespace !== 'string' || typeof registry !== 'string') return null;
  if (kubeconfig !== null && typeof kubeconfig !== 'string') return null;
  return { target: 'kubernetes', context, namespace, registry, kubeconfig } satisfies KubernetesTarget;
}

/** The fold: the last well-formed 'target-set' event, or local. */
export function currentTarget(events: readonly EventLike[]): AppTarget {
  let t: AppTarget = { target: 'local' };
  for (const e of events) {
    if (e.type !== 'target-set') continue;
    const parsed = targetOfDetail(e.detail);
    if (parsed) t = parsed;
  }
  return t;
}

const same = (a: AppTarget, b: AppTarget) => JSON.stringify(a) === JSON.stringify(b);

/** `brr apps set`: records the target unless it is already the current one. */
export async function setAppTarget(
  ctx: Context,
  app: string,
  target: AppTarget,
): Promise<{ target: AppTarget; changed: boolean }> {
  const before = await appTarget(ctx, app);
  if (same(before, target)) return { target, changed: false };
  await ctx.ledger.appendEvent(app, {
    type: 'target-set',
    release: null,
    detail: { ...target },
    actor: ctx.actor,
    createdAt: ctx.clock.now().toISOString(),
  });
  return { target, changed: true };
}

/**
 * The app's target from its newest 'target-set' event, read by type (the fold over every event
 * gives the same, unless that event is malformed: then the fold decides).
 */
export async function appTarget(ctx: Pick<Context, 'ledger'>, app: string): Promise<AppTarget> {
  const last = await ctx.ledger.lastEventOf(app, ['target-set']);
  if (!last) return { target: 'local' };
  return targetOfDetail(last.detail) ?? currentTarget(await ctx.ledger.listEvents(app));
}

export interface AppRow {
  app: string;
  target: AppTarget;
  current: string | null;
}

/** `brr apps`: every app in the ledger with its target and current release. */
export async function listAppTargets(ctx: Context): Promise<AppRow[]> {
  const rows: AppRow[] = [];
  for (const app of await ctx.ledger.listApps()) {
    rows.push({ app, target: await appTarget(ctx, app), current: await currentReleaseOf(ctx.ledger, app) });
  }
  return rows;
}

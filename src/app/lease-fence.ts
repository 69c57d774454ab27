import type { AppendOptions, Ledger, NewEvent, ReleaseDraft } from '../ledger/ledger.js';
import type { Config, Release } from '../core/types.js';

/**
 * A view of `ledger` whose appends to `app` carry `{ fence: token }`, so the database refuses
 * them ('lease_fenced') once another holder took the lease or it was broken. Use-cases keep
 * calling ctx.ledger.appendRelease/appendEvent unchanged.
 *
 * Appends to other apps pass through unfenced: the token is only meaningful for the leased app
 * (a use-case that reads one app and writes another takes that other app's lease itself).
 * After the lease is known to be lost (`signal` aborted), appends fail before reaching the
 * database, with the reason the lease was lost.
 *
 * A Proxy rather than a hand-written wrapper so methods added to Ledger later are passed on
 * without anyone remembering to add them here.
 */
export function fencedLedger(ledger: Ledger, app: string, token: number, signal?: AbortSignal): Ledger {
  const fence = (target: string, opts: AppendOptions | undefined): AppendOptions | undefined => {
    if (target !== app) return opts;
    signal?.throwIfAborted();
    return { ...opts, fence: token };
  };
  const appendRelease = async (
    target: string,
    draft: (latest: Release | null, staged: Config) => ReleaseDraft | Promise<ReleaseDraft>,
    opts?: AppendOptions,
  ) => ledger.appendRelease(target, draft, fence(target, opts));
  const appendEvent = async (target: string, event: NewEvent, opts?: AppendOptions) =>
    ledger.appendEvent(target, event, fence(target, opts));
  return new Proxy(ledger, {
    get(obj, prop) {
      if (prop === 'appendRelease') return appendRelease;
      if (prop === 'appendEvent') return appendEvent;
      const v: unknown = Reflect.get(obj, prop, obj);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(obj) : v;
    },
  });
}

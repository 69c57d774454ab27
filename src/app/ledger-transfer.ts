/**
 * `brr ledger export|import` as verbs: an app's history (or every app's) as verified JSON Lines
 * out of this context's ledger, and such a file into it. Where the lines go and come from
 * (stdout, a file) is the caller's; the format and the verification are ledger/export.ts's.
 */
import { exportLedgerLines, importLedger, type ExportedApp, type ImportedApp } from '../ledger/export.js';
import type { Context } from './context.js';

export type { ExportedApp, ImportedApp } from '../ledger/export.js';

/**
 * The export of `apps` (every app in the ledger when `all`) as lines without newline; `done`
 * receives the per-app counts and chain problems once the last line was read.
 */
export async function* exportApps(
  ctx: Context,
  which: { apps?: string[]; all?: boolean },
  done: (summary: ExportedApp[]) => void,
): AsyncGenerator<string> {
  const apps = which.all ? await ctx.ledger.listApps() : (which.apps ?? []);
  yield* exportLedgerLines(ctx.ledger, apps, done);
}

/** Verifies an export and adds it, in one transaction, to apps with no history yet (only `app`'s entries when given). */
export function importApps(
  ctx: Context,
  lines: AsyncIterable<string>,
  opts: { app?: string } = {},
): Promise<ImportedApp[]> {
  return importLedger(ctx.ledger, lines, opts);
}

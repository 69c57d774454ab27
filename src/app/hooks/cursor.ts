/**
 * The dispatcher's durable position, `<home>/hooks/cursor.json` (0600, written atomically): per
 * app the last release and event seq turned into deliveries, and the deliveries still pending
 * (with their attempt count and next attempt time), so a restarted dispatcher neither loses nor
 * repeats one. A cursor that cannot be read counts as lost: the dispatcher then starts at the
 * newest entries rather than replaying the whole history to every hook.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Context } from '../context.js';
import { hookFiles, writePrivateFile } from './files.js';
import { chainHeads, type ChainPositions } from '../ledger-follow.js';
import type { HookPayload } from './payload.js';

export interface Pending {
  hook: string;
  payload: Omit<HookPayload, 'timestamp'>;
  /** Attempts made so far. */
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAt: number;
}

export interface CursorFile {
  version: 1;
  apps: Record<string, ChainPositions>;
  pending: Pending[];
}

export function readCursor(file: string): CursorFile | null {
  if (!existsSync(file)) return null;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as CursorFile;
    if (typeof c.apps !== 'object' || c.apps === null || !Array.isArray(c.pending)) return null;
    return c;
  } catch {
    return null;
  }
}

export function writeCursor(file: string, c: CursorFile): void {
  writePrivateFile(file, `${JSON.stringify(c)}\n`);
}

/** The ledger's current heads for every app: where a new or lost cursor starts. */
export async function headsNow(ctx: Context): Promise<Record<string, ChainPositions>> {
  const apps: Record<string, ChainPositions> = {};
  for (const app of await ctx.ledger.listApps()) apps[app] = await chainHeads(ctx.ledger, app);
  return apps;
}

/** Makes sure a cursor exists (called when a hook is added, so the first pass starts there, not later). */
export async function ensureCursor(ctx: Context): Promise<void> {
  const files = hookFiles(ctx.paths.root);
  if (readCursor(files.cursor)) return;
  writeCursor(files.cursor, { version: 1, apps: await headsNow(ctx), pending: [] });
}

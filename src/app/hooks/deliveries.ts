/**
 * The delivery log, `<home>/hooks/deliveries.jsonl` (0600): one JSON line per attempt, so an
 * operator sees what was sent where, what answered and what is still retried. It never holds a
 * secret or a URL (a URL may carry a token): a hook is named by its id. Past 5 MB the file is
 * moved to deliveries.jsonl.1 (the one before is dropped).
 */
import { appendFileSync, chmodSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { ensurePrivateDir, hookFiles } from './files.js';
import path from 'node:path';

export interface DeliveryRecord {
  /** When the attempt ended (ISO). */
  at: string;
  hook: string;
  /** The payload id (`app/kind/seq`). */
  delivery: string;
  event: string;
  app: string;
  release: string | null;
  /** 1 for the first try. */
  attempt: number;
  /** delivered (2xx), retrying (will be tried again at nextAttemptAt), failed (gave up). */
  status: 'delivered' | 'retrying' | 'failed';
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  nextAttemptAt?: string;
}

export const DELIVERY_LOG_MAX_BYTES = 5 * 1024 * 1024;

export function appendDelivery(home: string, rec: DeliveryRecord, maxBytes = DELIVERY_LOG_MAX_BYTES): void {
  const file = hookFiles(home).deliveries;
  ensurePrivateDir(path.dirname(file));
  try {
    if (statSync(file).size > maxBytes) renameSync(file, `${file}.1`);
  } catch {}
  const fresh = !existsSync(file);
  appendFileSync(file, `${JSON.stringify(rec)}\n`, { mode: 0o600 });
  if (fresh) chmodSync(file, 0o600);
}

/** `brr hooks deliveries`: the last `n` attempts (of `hook`, when given), oldest first. */
export function readDeliveries(home: string, opts: { hook?: string; n?: number } = {}): DeliveryRecord[] {
  const file = hookFiles(home).deliveries;
  const out: DeliveryRecord[] = [];
  for (const f of [`${file}.1`, file]) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as DeliveryRecord;
        if (!opts.hook || r.hook === opts.hook) out.push(r);
      } catch {}
    }
  }
  return out.slice(-(opts.n ?? 20));
}

// The release workload both ledger benches append, so their numbers compare: most releases are
// config changes, every tenth a new build.
import { openSqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { planConfigChange, planRelease } from '../dist/release/plan.js';

export const now = new Date('2025-03-01T12:00:00.000Z');
export const build = { digest: `sha256:${'a'.repeat(64)}`, commit: '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b' };
export const staged = {
  LOG_LEVEL: { value: 'info', secret: false },
  GREETING: { value: 'hello', secret: false },
  UPSTREAM_URL: { value: 'http://smf.internal:8805', secret: false },
  N3_ADDRESS: { value: '10.0.0.2', secret: false },
  API_TOKEN: { value: 's3cr3t-token-value', secret: true },
};

/** The draft of the i-th release. */
export const draftFor = (i) => (latest) =>
  latest && i % 10 !== 0
    ? planConfigChange({ latest, set: { LOG_LEVEL: `level-${i}` }, unset: [], secret: false, actor: 'bench@host', now })
    : planRelease({ latest, staged, build, formation: { web: 2, udp: 1 }, message: null, actor: 'bench@host', now });

/**
 * A long history of app `upf` in the SQLite ledger `file`, appended through the driver as brr
 * writes it: `total` releases, each followed by `eventsPerRelease` of its run-stage events
 * (`switch-started`, `activated`). `onProgress(n)` every 20,000 releases.
 */
export async function fillHistory(file, total, eventsPerRelease = 2, onProgress = () => {}) {
  const ledger = openSqliteLedger(file, { durability: 'normal' });
  const at = new Date('2026-01-01T00:00:00Z').toISOString();
  const types = ['switch-started', 'activated'].slice(0, eventsPerRelease);
  try {
    for (let i = 0; i < total; i++) {
      const r = await ledger.appendRelease('upf', draftFor(i));
      for (const type of types)
        await ledger.appendEvent('upf', { type, release: r.id, detail: {}, actor: 'bench@host', createdAt: at });
      if ((i + 1) % 20_000 === 0) onProgress(i + 1);
    }
  } finally {
    await ledger.close();
  }
}

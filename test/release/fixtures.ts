import type { Config, Release } from '../../src/core/types.js';

/** Deterministic inputs for planner and diff tests. */
export const NOW = new Date('2025-03-01T12:00:00.000Z');
export const ACTOR = 'alice@ci';
export const DIGEST_A = `sha256:${'a'.repeat(64)}`;
export const DIGEST_B = `sha256:${'b'.repeat(64)}`;
export const COMMIT_A = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';
export const COMMIT_B = '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432';

export function plain(value: string): Config[string] {
  return { value, secret: false };
}

export function secret(value: string): Config[string] {
  return { value, secret: true };
}

/** A release as the ledger would return it (hash values are placeholders, not real hashes). */
export function makeRelease(seq: number, over: Partial<Release> = {}): Release {
  return {
    app: 'upf-staging',
    seq,
    id: `v${seq}`,
    build: { digest: DIGEST_A, commit: COMMIT_A },
    config: { LOG_LEVEL: plain('info') },
    formation: { web: 1 },
    cause: `deploy ${COMMIT_A.slice(0, 7)}`,
    message: null,
    actor: ACTOR,
    createdAt: NOW.toISOString(),
    rollbackOf: null,
    prevHash: seq === 1 ? null : `hash-${seq - 1}`,
    hash: `hash-${seq}`,
    ...over,
  };
}

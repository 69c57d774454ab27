import type { Clock } from '../core/clock.js';
import type { HomePaths } from '../core/home.js';
import type { EventType, Formation, ProcessSpec } from '../core/types.js';

/** Everything the run stage needs to run one release of one app: no ledger, no store. */
export interface RunSpec {
  app: string;
  /** Release id, `vN`. */
  release: string;
  /** The release's ledger hash (shown by `ps`, checked by `status`). */
  releaseHash: string;
  /** Materialized, read-only release directory: the processes' working directory. */
  dir: string;
  /** The release's config as environment (secrets included: never log it). */
  env: Record<string, string>;
  processes: Record<string, ProcessSpec>;
  /** Scale per process type (overrides ProcessSpec.scale). */
  formation: Formation;
}

/** What the supervisor is given; app/supervisor-deps.ts wires these to the ledger and the store. */
export interface SupervisorDeps {
  home: HomePaths;
  clock: Clock;
  /** Apps and the release each should run now (the ledger's current release), prepared. */
  desired(): Promise<RunSpec[]>;
  /** Verifies the release's blobs, materializes it read-only and returns its RunSpec. Throws BrrError. */
  prepare(app: string, release: string): Promise<RunSpec>;
  /** Appends a run-stage event to the ledger ('switch-started', 'activated', 'failed', 'rolled-back', 'stopped'). */
  record(app: string, type: EventType, release: string | null, detail: Record<string, unknown>): Promise<void>;
  /** Progress and diagnostics (goes to the supervisor's own log). */
  log(line: string): void;
  /**
   * The id of the secrets key the supervisor opens secrets with now (null: none, or unreadable),
   * told in its ping answer so a `config set --secret` can refuse before appending a release it
   * could not run.
   */
  secretsKeyId?(): string | null;
}

export type ProcessState = 'starting' | 'running' | 'healthy' | 'backoff' | 'stopping' | 'exited' | 'failed';

/** One row of `brr ps`. */
export interface ProcessInfo {
  app: string;
  release: string;
  type: string;
  index: number;
  pid: number | null;
  state: ProcessState;
  restarts: number;
  /** Milliseconds since this incarnation started; null when not running. */
  uptimeMs: number | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  /**
   * Failed health tries of this slot (app, type, index) since the supervisor started, over every
   * incarnation and release; absent from a supervisor too old to count. A refused connection
   * while the process starts is not counted; a gate that times out on refusals counts once.
   */
  healthFailures?: number;
  /** The last of those failures. */
  lastHealthFailure?: { at: string; reason: string };
}

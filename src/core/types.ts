/**
 * The shared data model of brr. Every stage speaks these types; modules never reach into each
 * other's storage.
 */

/** `sha256:<64 hex>` */
export type Digest = string;

/** `sctp` is for the Kubernetes target only: the local supervisor refuses it. */
export type Protocol = 'tcp' | 'udp' | 'sctp';
export type RestartPolicy = 'always' | 'on-failure' | 'never';

export interface PortSpec {
  /** Name used in LISTEN_FDNAMES and by health checks. */
  name: string;
  port: number;
  protocol: Protocol;
  /** Bind address; default 127.0.0.1 (nothing listens beyond loopback unless asked). */
  address: string;
  /**
   * How the local supervisor hands the port to processes: absent means `proxy` (each process
   * binds its own private port, `PORT_<NAME>`, and the supervisor forwards); `fds` passes the
   * public socket itself (LISTEN_FDS). Only `fds` is recorded, so older images keep their digests.
   */
  handoff?: Handoff;
}

export type Handoff = 'proxy' | 'fds';

export type HealthCheck =
  { kind: 'http'; path: string; port: string } | { kind: 'tcp'; port: string } | { kind: 'exec'; command: string };

export interface HealthSpec {
  check: HealthCheck | null;
  /** Give up on a starting process after this long (ms). */
  timeoutMs: number;
  /** Time between checks (ms). */
  intervalMs: number;
  /** With no check: healthy once the process has stayed up this long (ms). */
  upForMs: number;
}

export interface ProcessSpec {
  command: string;
  scale: number;
  ports: PortSpec[];
  health: HealthSpec;
  /** SIGTERM → SIGKILL (ms). */
  graceMs: number;
  restart: RestartPolicy;
  /**
   * brr.yaml `stateful: true`: on Kubernetes a StatefulSet instead of a Deployment. Absent
   * (never false) otherwise, so images of stateless apps keep their digests.
   */
  stateful?: boolean;
  /**
   * brr.yaml `switch: stop-first`: the local supervisor stops the old processes before starting
   * the new ones (apps bound to a fixed port). Absent means `overlap`, never recorded.
   */
  switch?: SwitchStrategy;
  /**
   * brr.yaml `resources`: Kubernetes quantities, set as both request and limit of every container
   * of the type. Absent (never empty) when not given, so images without it keep their digests.
   */
  resources?: ResourceSpec;
}

/** CPU and memory of one container, as Kubernetes quantities (`500m`, `2`, `256Mi`); at least one is set. */
export interface ResourceSpec {
  cpu?: string;
  memory?: string;
}

export type SwitchStrategy = 'overlap' | 'stop-first';

/**
 * The release phase (brr.yaml `release.command`, or a Procfile's `release:` line): run once per
 * release, before its processes start, with the release's config (database migrations).
 */
export interface ReleasePhaseSpec {
  command: string;
}

/**
 * brr.yaml `build.image`: the image is assembled on `base` (or on nothing) without a container
 * engine. Absent fields inherit the base's config.
 */
export interface ImageSpec {
  /** `registry/repo:tag` or `registry/repo@sha256:…`; null builds on an empty base. */
  base: string | null;
  /** `os/arch[/variant]` picked from a multi-platform base; null = linux/<host arch>. */
  platform: string | null;
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** `uid[:gid]` or a user name of the base. */
  user: string | null;
  /** `8080/tcp`, `2152/udp`, `38412/sctp`. */
  ports: string[];
  env: Record<string, string>;
  /**
   * A static tini or dumb-init on the build host (absolute, or relative to the built directory),
   * added as a layer of its own at /usr/local/bin/<name> to be PID 1 on Kubernetes; absent when unset.
   */
  init?: string;
}

/** brr.yaml `build`. The optional keys are absent (not null) when brr.yaml does not set them. */
export interface BuildSpec {
  command: string[];
  output: string;
  /** Directories of the output put in layers of their own, below the app layer; default [node_modules]. */
  layers?: string[];
  image?: ImageSpec;
  /** Build with a container engine from this Dockerfile (relative to the built directory). */
  dockerfile?: string;
}

/** brr.yaml, validated and with defaults applied. */
export interface Manifest {
  app: string | null;
  build: BuildSpec;
  processes: Record<string, ProcessSpec>;
  /** null when the app has no release phase. */
  release: ReleasePhaseSpec | null;
  /** Where the process list came from: 'brr.yaml' or 'Procfile'. */
  processesFrom: 'brr.yaml' | 'Procfile';
}

/** One image in the local store, as `brr builds` lists it. */
export interface BuildRecord {
  digest: Digest;
  commit: string;
  app: string | null;
  /** Repository the build came from (absolute path or URL), informational. */
  source: string;
  /** Subdirectory of the repository that was built ('' for the root). */
  path: string;
  /** Bytes of manifest + config + layers. */
  size: number;
  /** ISO time the build was stored (wall clock, not part of the image). */
  createdAt: string;
  /** The processes the image declares (from its brr.yaml or Procfile). */
  processes: Record<string, ProcessSpec>;
  /**
   * The release phase the image declares (label `dev.brr.release`); null or absent when none.
   * Optional so records written by code that predates it still type-check.
   */
  release?: ReleasePhaseSpec | null;
  /** The OCI index ref name (`org.opencontainers.image.ref.name`). */
  ref: string;
  /** The base image pinned by digest (`registry/repo@sha256:…`, label `dev.brr.base`), or null. */
  base?: string | null;
  /** Path of the image's init (tini/dumb-init, label `dev.brr.init`), PID 1 on Kubernetes; absent or null when none. */
  init?: string | null;
  /** Where the build was pushed (`registry/repo[:tag]@sha256:…`), oldest first. */
  pushed?: string[];
}

export interface ConfigValue {
  value: string;
  secret: boolean;
}

export type Config = Record<string, ConfigValue>;

/** Scale per process type. */
export type Formation = Record<string, number>;

/** The body of a release: what gets hashed, along with seq/id/prevHash. */
export interface ReleaseBody {
  app: string;
  seq: number;
  id: string; // `v${seq}`
  build: { digest: Digest; commit: string };
  config: Config;
  formation: Formation;
  cause: string;
  message: string | null;
  actor: string;
  createdAt: string;
  /** For rollbacks: the release copied. */
  rollbackOf: string | null;
  prevHash: string | null;
}

export interface Release extends ReleaseBody {
  /** sha256 hex of canonicalJson(ReleaseBody). */
  hash: string;
}

/**
 * Kinds of ledger events (appended beside releases, never rewritten). Drivers refuse others.
 * - config-staged: config change before the first release: detail { set: {KEY: ConfigValue}, unset: [KEY] }
 * - switch-started / activated / failed / rolled-back / stopped: the run stage's outcomes for `release`
 * - lock-broken: a deploy lease was broken by hand (`brr lock --force`): detail { lease }
 * - release-phase-started / release-phase-succeeded / release-phase-failed: `release.command` of `release`
 * - trust-changed: the app's trusted signing keys changed: detail { add?: [...], remove?: [...] }
 * - promoted: `release` was promoted from another app: detail { fromApp, fromRelease }
 * - target-set: where the app runs from now on: detail { target: 'local' } or { target: 'kubernetes', context, namespace, registry, kubeconfig }
 * - signed: `release` was signed: detail { hash, keyId, publicKey, signature } (Ed25519 over the release hash)
 */
export const EVENT_TYPES = [
  'config-staged',
  'switch-started',
  'activated',
  'failed',
  'rolled-back',
  'stopped',
  'lock-broken',
  'lease-taken-over',
  'release-phase-started',
  'release-phase-succeeded',
  'release-phase-failed',
  'trust-changed',
  'promoted',
  'signed',
  'target-set',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface EventBody {
  app: string;
  seq: number;
  type: EventType;
  release: string | null;
  detail: Record<string, unknown>;
  actor: string;
  createdAt: string;
  prevHash: string | null;
}

export interface LedgerEvent extends EventBody {
  hash: string;
}

/** What a caller decides about a new release, given the latest one (read inside the write transaction). */
export type ReleaseDraft = Pick<
  ReleaseBody,
  'build' | 'config' | 'formation' | 'cause' | 'message' | 'actor' | 'createdAt' | 'rollbackOf'
>;

export interface NewEvent {
  type: EventType;
  release: string | null;
  detail: Record<string, unknown>;
  actor: string;
  createdAt: string;
}

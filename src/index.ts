/** brr as a library: the same use-cases the CLI runs. */
export * from './core/types.js';
export { BrrError } from './core/errors.js';
export { canonicalJson, hashCanonical, sha256Digest } from './core/canonical-json.js';
export { homePaths, resolveHome } from './core/home.js';
export { parseManifest, loadManifest, parseProcfile } from './manifest/load.js';
export { openContext, type Context } from './app/context.js';
export { createRelease } from './app/create-release.js';
export { changeConfig, currentConfig } from './app/change-config.js';
export { appendRollback } from './app/rollback.js';
export { runRelease, findRelease } from './app/run-release.js';
export { appStatus } from './app/status.js';
export { buildImage } from './build/build.js';
export { listBuilds, findBuild } from './store/builds.js';
export type { Ledger } from './release/ledger.js';

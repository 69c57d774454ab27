/**
 * brr as a library: the same verbs the CLI runs, one call each (src/app), each taking the app's
 * deploy lease itself where it writes, plus the layers below for those who compose their own.
 */
export * from './core/types.js';
export { BrrError, isBrrError } from './core/errors.js';
export { canonicalJson, hashCanonical, sha256Digest } from './core/canonical-json.js';
export { homePaths, resolveHome } from './core/home.js';
export { parseManifest, loadManifest, parseProcfile } from './manifest/load.js';
export { MANIFEST_DOC } from './manifest/schema.js';
export { openContext, type Context } from './app/context.js';
// The verbs.
export { deployApp, type DeployOptions, type DeployResult } from './app/deploy.js';
export { buildApp, listAppBuilds } from './app/builds.js';
export { createRelease, releaseApp } from './app/create-release.js';
export { changeConfig, currentConfig, showConfig, setConfig, unsetConfig, viewConfig } from './app/change-config.js';
export { appendRollback, rollbackApp } from './app/rollback.js';
export { runRelease, runApp, findRelease } from './app/run-release.js';
export { promoteRelease, promoteApp } from './app/promote.js';
export { listAppReleases, showRelease, diffAppReleases, publicRelease } from './app/releases.js';
export { listProcesses, stopSupervisor, superviseHome } from './app/processes.js';
export { readAppLogs, followAppLogs } from './app/logs.js';
export { appStatus } from './app/status.js';
export { collectAudit } from './app/audit.js';
export { collectGarbage } from './app/gc.js';
export { showLock, breakLock } from './app/lease-lock.js';
export { signExisting } from './app/sign-release.js';
export { generateKeyFile, listKeys } from './app/keys.js';
export { trustKey, untrustKey, listTrustedKeys } from './app/trust.js';
export { listAppTargets, setAppTarget, planTarget } from './app/app-target.js';
export { renderForApp } from './app/kubernetes-render.js';
export { exportApps, importApps } from './app/ledger-transfer.js';
export { pushAppBuild, pullImage } from './app/registry.js';
export { withLease, withDeployLease, DEFAULT_LEASE_WAIT_MS, type VerbOptions } from './app/lease.js';
export { runReleasePhase } from './app/release-phase.js';
export { preflightRelease } from './app/preflight.js';
export { verifyLedger } from './app/verify-ledger.js';
export { createToken, listTokens, revokeToken, TokenVerifier, type Role, type TokenInfo } from './app/tokens.js';
export { ActivityWatcher, type Activity } from './app/activity.js';
export { appSummaries, pageAppReleases, configView, type AppSummary } from './app/console-views.js';
// The layers below, for callers that compose their own verbs.
export { buildImage } from './build/build.js';
export { listBuilds, findBuild } from './store/builds.js';
export type { Ledger, Lease, LeaseHolder } from './ledger/ledger.js';
export { openSqliteLedger } from './ledger/sqlite/ledger.js';
export { openPostgresLedger } from './ledger/postgres/ledger.js';
export { openLedger } from './ledger/open.js';
export { runSupervisor } from './run/local/supervisor.js';
export { renderRelease } from './run/kubernetes/render.js';

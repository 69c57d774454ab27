import path from 'node:path';
import { BrrError } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { Release } from '../core/types.js';
import { checkReleaseDecrypts } from '../release/secrets.js';
import { assertReleaseTrusted } from '../release/trust.js';
import { findCollected } from '../store/collect.js';
import { readManifest } from '../store/image-read.js';
import { OciLayout, type BlobCheck } from '../store/oci-layout.js';
import { readAppState, type AppState } from './app-state.js';
import type { Context } from './context.js';
import { secretsEnv } from './settings.js';

/**
 * Rollback preflight: everything that would make running an old release fail, checked BEFORE
 * anything is appended to the ledger, so a doomed rollback leaves no release behind it.
 */

type ReleaseRef = Pick<Release, 'app' | 'id' | 'build'>;

/** The build is gone from the local store: collected by `brr gc`, or made on another host. */
export async function buildCollected(paths: HomePaths, rel: ReleaseRef): Promise<BrrError> {
  const { digest, commit } = rel.build;
  const tomb = await findCollected(paths.root, digest);
  const where = tomb ? `was removed by \`brr gc\` at ${tomb.collectedAt}` : 'is not in the local store';
  // The source is a local path (usable as --repo) or a public URL (clone it first).
  const local = tomb?.source && path.isAbsolute(tomb.source);
  const command = `brr build${local ? ` --repo ${tomb.source}` : ''} --ref ${commit}${tomb ? (tomb.path ? ` --path ${tomb.path}` : '') : ' [--path <subdir>]'}`;
  const inClone = tomb?.source && !local ? ` in a clone of ${tomb.source}` : '';
  return new BrrError(
    'build_collected',
    `${rel.app} ${rel.id}: its build ${digest} ${where}; the release stays in the ledger but cannot run until it is rebuilt`,
    {
      hint: `rebuild its commit${inClone} (builds are reproducible: the digest comes out the same): ${command}`,
      details: {
        app: rel.app,
        release: rel.id,
        digest,
        commit,
        path: tomb?.path ?? null,
        source: tomb?.source ?? null,
      },
    },
  );
}

function corrupt(rel: ReleaseRef, blob: string, what: string, check: BlobCheck): BrrError {
  const problem = check === 'missing' ? 'missing' : 'damaged (its content does not match its digest)';
  return new BrrError(
    'store_corrupt',
    `${rel.app} ${rel.id}: ${what} blob ${blob} of build ${rel.build.digest} is ${problem}`,
    {
      hint: `rebuild it: brr build --ref ${rel.build.commit} --no-cache`,
      details: { app: rel.app, release: rel.id, blob, what, problem: check },
    },
  );
}

/**
 * Where a release's build stands, cheaply (presence, no hashing), for `brr show`: the ledger
 * record stays readable whatever happened to the artifact, so show reports rather than fails.
 */
export async function buildStatus(
  paths: HomePaths,
  rel: ReleaseRef,
): Promise<{ present: boolean; message: string | null; hint: string | null }> {
  if (await isBuildPresent(paths, rel)) return { present: true, message: null, hint: null };
  const e = await buildCollected(paths, rel);
  return { present: false, message: e.message, hint: e.hint ?? null };
}

/**
 * Throws 'build_collected' unless the build's index entry and manifest are in the store. No
 * hashing: the store verifies every blob when it materializes a release, so `brr run` need not
 * hash them a second (or, after a rollback's preflight, a third) time.
 */
export async function checkBuildPresent(paths: HomePaths, rel: ReleaseRef): Promise<void> {
  if (!(await isBuildPresent(paths, rel))) throw await buildCollected(paths, rel);
}

async function isBuildPresent(paths: HomePaths, rel: ReleaseRef): Promise<boolean> {
  const layout = new OciLayout(paths.oci);
  const indexed = (await layout.listImages()).some((d) => d.digest === rel.build.digest);
  return indexed && (await layout.hasBlob(rel.build.digest));
}

/**
 * Throws 'build_collected' when the release's build has no index entry (the run stage looks
 * builds up by index entry), 'store_corrupt' when any blob of it is missing or does not verify.
 */
export async function checkBuildVerifies(paths: HomePaths, rel: ReleaseRef): Promise<void> {
  const layout = new OciLayout(paths.oci);
  if (!(await layout.listImages()).some((d) => d.digest === rel.build.digest)) throw await buildCollected(paths, rel);
  const check = async (blob: string, what: string) => {
    const r = await layout.verifyBlob(blob);
    if (r !== 'ok') throw corrupt(rel, blob, what, r);
  };
  await check(rel.build.digest, 'manifest');
  const manifest = await readManifest(layout, rel.build.digest, rel.build.commit);
  await check(manifest.config.digest, 'config');
  for (const l of manifest.layers) await check(l.digest, 'layer');
}

export interface PreflightResult {
  app: string;
  release: string;
  digest: string;
  /** What was checked, in order. */
  checks: Array<'build' | 'secrets' | 'trust'>;
}

/**
 * Checks that `release` of `app` can run here: its build is present and every blob verifies,
 * its secret config decrypts with the configured key, and the app's trust policy (from `state`
 * when the caller already read it) accepts its signature. Throws the first problem as a
 * BrrError ('build_collected', 'store_corrupt', the secrets module's key errors,
 * 'release_untrusted').
 */
export async function preflightRelease(
  ctx: Context,
  app: string,
  release: Release,
  state?: AppState,
): Promise<PreflightResult> {
  await checkBuildVerifies(ctx.paths, release);
  checkReleaseDecrypts(release, secretsEnv(ctx.settings));
  const { signedEvents, trust } = state ?? (await readAppState(ctx, app));
  // No policy, nothing to check: the signatures are not even read.
  if (trust.length > 0) assertReleaseTrusted(await signedEvents(release.id), trust, app, release);
  return { app, release: release.id, digest: release.build.digest, checks: ['build', 'secrets', 'trust'] };
}

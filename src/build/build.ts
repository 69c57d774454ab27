import { mkdir, mkdtemp, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { hashCanonical } from '../core/canonical-json.js';
import { systemClock, type Clock } from '../core/clock.js';
import { BrrError, invalidInput } from '../core/errors.js';
import { ensureHome, type HomePaths } from '../core/home.js';
import type { BuildRecord, Manifest } from '../core/types.js';
import { brrVersion } from '../core/version.js';
import { isValidAppName } from '../manifest/schema.js';
import { IMAGE_LABELS } from '../store/image.js';
import { buildRecordOf, readConfig, readManifest } from '../store/image-read.js';
import { ANNOTATIONS, MEDIA_TYPES, OciLayout, type Descriptor } from '../store/oci-layout.js';
import { removeTree } from '../store/remove-tree.js';
import { buildWorkPrefix, removeDeadBuildScratch } from './build-scratch.js';
import { checkoutNeeded, packFromArchive } from './archive-layers.js';
import { commitTime, exportTree, isDirty, publicOrigin, resolveCommit } from './checkout.js';
import { diskFullError, isDiskFull } from './disk-full.js';
import { manifestAtCommit, resolveBuildBase, writeBuildImage } from './image-recipe.js';
import { confirmAfter, normalizeRel, planDependencyLayers, snapshotBefore } from './layer-cache.js';
import type { AppLayer } from './layers.js';
import { runRecipe } from './recipe.js';

/**
 * `brr build`: one commit of a repository → one OCI image in the local store. Reads the commit
 * (never the work tree), runs the recipe in a scrubbed environment, writes the image, and only
 * then adds it to index.json: a failed build leaves no index entry.
 */

export interface BuildOptions {
  paths: HomePaths;
  repo: string;
  /** Subdirectory to build (monorepos); default the repository root. */
  path?: string;
  ref?: string;
  noCache?: boolean;
  /** App the build is recorded for (index annotation); default brr.yaml's `app`. */
  app?: string;
  progress?: (line: string) => void;
  /** Wall clock for the informational `dev.brr.created` annotation. */
  clock?: Clock;
  /** Allow plain HTTP to a non-loopback registry holding `build.image.base`. */
  insecure?: boolean;
  /**
   * Always pack from a checkout on disk, even when the layers could come straight from `git
   * archive` (src/build/archive-layers.ts): the two must give the same digest, and tests compare them.
   */
  viaCheckout?: boolean;
}

export interface BuildResult {
  digest: string;
  commit: string;
  cached: boolean;
  dirty: boolean;
  record: BuildRecord;
}

/**
 * The build cache key: what the image is a function of. The base image's digest joins it for
 * `build.image.base` builds (absent otherwise, which keeps older keys valid).
 */
export function cacheKey(commit: string, subdir: string, baseDigest?: string): string {
  return hashCanonical({ brr: brrVersion(), commit, path: subdir, base: baseDigest });
}

/** `./svc/a/` → `svc/a`; refuses paths that leave the repository. */
export function normalizeSubdir(p: string | undefined): string {
  const parts = (p ?? '').split('/').filter((x) => x !== '' && x !== '.');
  if ((p ?? '').startsWith('/') || parts.includes('..')) {
    throw invalidInput(
      'path_invalid',
      `--path "${p}" must be a directory inside the repository`,
      'give it relative to the repository root, e.g. --path services/upf',
    );
  }
  return parts.join('/');
}

function refName(app: string | null, commit: string, digest: string): string {
  return `${app ?? 'build'}-${commit.slice(0, 12)}-${digest.slice('sha256:'.length, 'sha256:'.length + 8)}`;
}

function annotations(a: {
  app: string | null;
  commit: string;
  digest: string;
  subdir: string;
  source: string;
  created: string;
  key: string;
}): Record<string, string> {
  const out: Record<string, string> = {
    [ANNOTATIONS.refName]: refName(a.app, a.commit, a.digest),
    [ANNOTATIONS.revision]: a.commit,
    [ANNOTATIONS.path]: a.subdir,
    [ANNOTATIONS.source]: a.source,
    [ANNOTATIONS.created]: a.created,
    [ANNOTATIONS.cacheKey]: a.key,
  };
  if (a.app) out[ANNOTATIONS.app] = a.app;
  return out;
}

/** Whether a blob file exists (presence only: materialize verifies content). */
async function present(layout: OciLayout, digest: string): Promise<boolean> {
  return layout.hasBlob(digest).catch(() => false);
}

/**
 * The cache hit path, kept to a few small reads: the index, the manifest and the config. An
 * image found for another app gets a second index entry (same digest) for this one.
 */
async function fromCache(
  layout: OciLayout,
  key: string,
  app: string | undefined,
  repo: string,
  now: Date,
): Promise<BuildRecord | null> {
  const entries = (await layout.listImages()).filter((d) => d.annotations?.[ANNOTATIONS.cacheKey] === key);
  const newest = entries[entries.length - 1];
  if (!newest || !(await present(layout, newest.digest))) return null;
  const manifest = await readManifest(layout, newest.digest).catch(() => null);
  if (!manifest || !(await present(layout, manifest.config.digest))) return null;
  for (const l of manifest.layers) if (!(await present(layout, l.digest))) return null;
  const config = await readConfig(layout, manifest).catch(() => null);
  if (!config) return null;
  const wanted = app ?? config.config?.Labels?.[IMAGE_LABELS.app] ?? null;
  const same = entries.find((d) => (d.annotations?.[ANNOTATIONS.app] ?? null) === wanted);
  if (same) return buildRecordOf(layout, same);
  const a = newest.annotations ?? {};
  const desc: Descriptor = {
    mediaType: MEDIA_TYPES.manifest,
    digest: newest.digest,
    size: newest.size,
    annotations: annotations({
      app: wanted,
      commit: a[ANNOTATIONS.revision]!,
      digest: newest.digest,
      subdir: a[ANNOTATIONS.path] ?? '',
      source: repo,
      created: now.toISOString(),
      key,
    }),
  };
  await layout.addImage(desc);
  return buildRecordOf(layout, desc);
}

/** The build output directory, checked to exist and to stay inside the checkout. */
async function outputDir(src: string, output: string): Promise<string> {
  const dir = path.join(src, output);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) {
    throw new BrrError('build_output_missing', `build.output "${output}" is not a directory after the build`, {
      hint: 'make build.command create it, or fix build.output in brr.yaml',
    });
  }
  const [real, root] = await Promise.all([realpath(dir), realpath(src)]);
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new BrrError('build_output_invalid', `build.output "${output}" resolves outside the checkout`, {
      hint: 'build.output must be a directory inside the repository, not a symlink out of it',
    });
  }
  return real;
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const { paths } = opts;
  const progress = opts.progress ?? (() => {});
  const now = (opts.clock ?? systemClock).now();
  if (opts.app !== undefined && !isValidAppName(opts.app))
    throw invalidInput(
      'app_invalid',
      `"${opts.app}" is not a valid app name`,
      'use lowercase letters, digits and dashes',
    );
  const repo = path.resolve(opts.repo);
  const subdir = normalizeSubdir(opts.path);
  const [commit, dirty] = await Promise.all([resolveCommit(repo, opts.ref ?? 'HEAD'), isDirty(repo)]);
  let key = cacheKey(commit, subdir);
  const layout = new OciLayout(paths.oci);
  await layout.init();

  if (!opts.noCache) {
    const hit = await fromCache(layout, key, opts.app, repo, now);
    if (hit) return { digest: hit.digest, commit, cached: true, dirty, record: hit };
  }
  const atCommit = await manifestAtCommit(repo, commit, subdir);
  const base = await resolveBuildBase({
    layout,
    repo,
    commit,
    subdir,
    insecure: opts.insecure,
    progress,
    manifest: atCommit,
  });
  if (base) {
    key = cacheKey(commit, subdir, base.digest);
    const hit = opts.noCache ? null : await fromCache(layout, key, opts.app, repo, now);
    if (hit) return { digest: hit.digest, commit, cached: true, dirty, record: hit };
  }

  ensureHome(paths.root, paths.tmp, paths.buildLogs);
  // What killed builds left behind would otherwise fill the disk, one SIGKILL at a time.
  for (const p of await removeDeadBuildScratch(paths)) progress(`removed ${p} (left by a killed build)`);
  let work: string;
  try {
    work = await mkdtemp(buildWorkPrefix(paths));
  } catch (e) {
    if (isDiskFull(e))
      throw await diskFullError(e as NodeJS.ErrnoException, {
        stage: 'preparing the build',
        fallback: paths.tmp,
        work: '',
        output: null,
      });
    throw e;
  }
  // Where a build stands, so that running out of space is reported as what it is, with the estimate.
  let stage = 'checking out the commit';
  let out: string | null = null;
  try {
    return await buildInWork(work);
  } catch (e) {
    if (!isDiskFull(e)) throw e;
    throw await diskFullError(e as NodeJS.ErrnoException, {
      stage,
      fallback: stage === 'checking out the commit' || stage === 'running the build command' ? work : paths.oci,
      work,
      output: out,
    });
  } finally {
    await removeTree(work);
  }

  async function buildInWork(work: string): Promise<BuildResult> {
    const src = path.join(work, 'src');
    const time = await commitTime(repo, commit);
    const deps = await planDependencyLayers({ layout, repo, commit, subdir, manifest: atCommit, reuse: !opts.noCache });
    const where = `${subdir ? `${subdir}/` : ''}brr.yaml at commit ${commit.slice(0, 12)}`;
    const shown = `${commit.slice(0, 12)}${subdir ? ` (${subdir})` : ''} from ${repo}`;
    const logFile = path.join(
      paths.buildLogs,
      `${commit}-${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`,
    );
    const checkoutWhy = opts.viaCheckout ? 'asked for' : checkoutNeeded(atCommit);
    if (checkoutWhy === null) {
      // Nothing needs the files on disk: the layers come straight from the git archive stream.
      stage = 'packaging the image';
      progress(`archive ${shown}`);
      const stored = new Map<string, AppLayer>();
      for (const c of deps.candidates) if (c.stored) stored.set(c.dir, c.stored);
      const packed = await packFromArchive({
        layout,
        repo,
        commit,
        subdir,
        exclude: deps.excluded,
        manifest: atCommit!,
        commitTime: time,
        stored,
        where,
        progress,
      });
      if ('reason' in packed) progress(`packing from a checkout: ${packed.reason}`);
      else {
        const out = path.join(src, normalizeRel(packed.manifest.build.output) ?? '');
        return finish(packed.manifest, out, logFile, { split: packed.split, layers: packed.layers });
      }
    }
    stage = 'checking out the commit';
    await mkdir(src);
    progress(`checkout ${shown}`);
    await exportTree(repo, commit, subdir, src, time, deps.excluded);
    // Loaded here, not at the top: the YAML parser costs ~40 ms of start-up the cache hit avoids.
    const { loadManifest } = await import('../manifest/load.js');
    const manifest = loadManifest(src, where);
    stage = 'running the build command';
    let before: Map<string, string> | null = null;
    if (manifest.build.command.length > 0) {
      before = await snapshotBefore(deps, path.join(src, manifest.build.output));
      await runRecipe({
        dir: src,
        commands: manifest.build.command,
        commitTime: time,
        logFile,
        tmpRoot: work,
        progress,
      });
    }
    out = await outputDir(src, manifest.build.output);
    if (before) await confirmAfter(deps, out, before, progress);
    return finish(manifest, out, logFile);

    async function finish(
      manifest: Manifest,
      outDir: string,
      logFile: string,
      packed?: { split: string[]; layers: AppLayer[] },
    ): Promise<BuildResult> {
      stage = 'packaging the image';
      // No source URL inside the image: two clones of one commit (different remotes, or none)
      // must give the same digest. Where it came from is recorded in the index annotation.
      const input = {
        outputDir: outDir,
        commit,
        commitTime: time,
        source: null,
        app: manifest.app,
        processes: manifest.processes,
        release: manifest.release,
      };
      const image = await writeBuildImage({
        layout,
        manifest,
        src,
        image: input,
        base,
        work,
        logFile,
        progress,
        deps,
        packed,
      });
      const app = opts.app ?? manifest.app ?? null;
      const desc: Descriptor = {
        ...image.manifest,
        annotations: annotations({
          app,
          commit,
          digest: image.manifest.digest,
          subdir,
          source: (await publicOrigin(repo)) ?? repo,
          created: now.toISOString(),
          key,
        }),
      };
      stage = 'recording the image';
      await layout.addImage(desc);
      progress(`image ${desc.digest}`);
      // As the store will read it back: present only when the image has an init.
      const init = (await readConfig(layout, await readManifest(layout, desc.digest))).config?.Labels?.[
        IMAGE_LABELS.init
      ];
      const record: BuildRecord = {
        digest: desc.digest,
        commit,
        app,
        source: repo,
        path: subdir,
        size: image.size,
        createdAt: now.toISOString(),
        processes: manifest.processes,
        release: manifest.release,
        ref: desc.annotations![ANNOTATIONS.refName]!,
        base: base?.pinned ?? null,
        ...(init ? { init } : {}),
        pushed: [],
      };
      return { digest: desc.digest, commit, cached: false, dirty, record };
    }
  }
}

import { spawnSync } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import { describeEnd, runCommand, type Argv } from '../core/run-command.js';
import type { ImageResult } from '../store/image.js';
import type { OciLayout } from '../store/oci-layout.js';
import { importLayoutImage } from './oci-import.js';

/**
 * `build.dockerfile`: repositories that already have a Dockerfile are built by a container
 * engine (podman, buildah or docker, whichever is installed) on the clean checkout, with the
 * commit time as SOURCE_DATE_EPOCH and as every timestamp, and the result is imported into the
 * store by digest. The command lines are data (Kamal style); `runEngine` hands them to the
 * shared executor (`core/run-command.ts`).
 */

export type Engine = 'podman' | 'buildah' | 'docker';
export type { Argv };

export interface DockerfileBuild {
  engine: Engine;
  /** The build context: the clean checkout of the built directory. */
  context: string;
  /** The Dockerfile, absolute. */
  dockerfile: string;
  /** Temporary tag in the engine's storage, removed afterwards. */
  tag: string;
  epoch: number;
  labels: Record<string, string>;
  /** Where the engine writes the OCI layout (podman, buildah) or OCI archive (docker). */
  out: string;
}

/** The installed engine: $BRR_CONTAINER_ENGINE if set, else podman, buildah, docker in that order. */
export function detectEngine(env: NodeJS.ProcessEnv = process.env, has: (cmd: string) => boolean = onPath): Engine {
  const wanted = env.BRR_CONTAINER_ENGINE;
  if (wanted === 'podman' || wanted === 'buildah' || wanted === 'docker') return wanted;
  for (const e of ['podman', 'buildah', 'docker'] as const) if (has(e)) return e;
  throw new BrrError(
    'container_engine_missing',
    'build.dockerfile needs podman, buildah or docker, and none is installed',
    { hint: 'apt-get install -y podman (or set BRR_CONTAINER_ENGINE)' },
  );
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const labelArgs = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .flatMap((k) => ['--label', `${k}=${labels[k]}`]);

/** The build command line. `--timestamp` pins every time in the image to the commit time. */
export function buildArgv(b: DockerfileBuild): Argv {
  const common = ['--file', b.dockerfile, '--build-arg', `SOURCE_DATE_EPOCH=${b.epoch}`, ...labelArgs(b.labels)];
  switch (b.engine) {
    case 'podman':
      return ['podman', 'build', '--tag', b.tag, '--timestamp', String(b.epoch), ...common, b.context];
    case 'buildah':
      return ['buildah', 'build', '--tag', b.tag, '--timestamp', String(b.epoch), ...common, b.context];
    case 'docker':
      // BuildKit writes the OCI archive itself; rewrite-timestamp clamps file times to the epoch.
      return [
        'docker',
        'buildx',
        'build',
        ...common,
        '--output',
        `type=oci,dest=${b.out},rewrite-timestamp=true`,
        b.context,
      ];
  }
}

/** Copies the built image out of the engine's storage as an OCI layout (not needed for docker). */
export function exportArgv(b: DockerfileBuild): Argv | null {
  return b.engine === 'docker' ? null : [b.engine, 'push', b.tag, `oci:${b.out}:image`];
}

export function removeArgv(b: DockerfileBuild): Argv | null {
  return b.engine === 'docker' ? null : [b.engine, 'rmi', '--force', b.tag];
}

/** Runs one engine command; output goes to the build log and to progress. */
export async function runEngine(
  argv: Argv,
  logFile: string,
  progress: (l: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const r = await runCommand({ argv, env, logFile, header: `$ ${argv.join(' ')}`, tailLines: 20, onLine: progress });
  if (r.error !== null) {
    throw new BrrError('container_engine_missing', `cannot run ${argv[0]}: ${r.error}`, {
      hint: 'install podman, buildah or docker',
    });
  }
  if (r.exitCode === 0) return;
  throw new BrrError(
    'build_failed',
    `${argv.slice(0, 2).join(' ')} ${describeEnd(r)}; last lines:\n${r.lastLines.join('\n')}`,
    {
      hint: `read the full build log: ${logFile}`,
      details: { logFile, exitCode: r.exitCode, signal: r.signal, lastLines: r.lastLines },
    },
  );
}

export interface DockerfileOptions {
  layout: OciLayout;
  context: string;
  dockerfile: string;
  commit: string;
  epoch: number;
  labels: Record<string, string>;
  /** Scratch directory for the exported layout. */
  work: string;
  logFile: string;
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export async function buildDockerfile(opts: DockerfileOptions): Promise<ImageResult> {
  const progress = opts.progress ?? (() => {});
  const dockerfile = path.join(opts.context, opts.dockerfile);
  if (!(await stat(dockerfile).catch(() => null))?.isFile()) {
    throw new BrrError(
      'build_dockerfile_missing',
      `build.dockerfile "${opts.dockerfile}" is not a file in the commit`,
      { hint: 'commit the Dockerfile, or fix build.dockerfile in brr.yaml' },
    );
  }
  const engine = detectEngine(opts.env);
  await mkdir(opts.work, { recursive: true });
  const out = path.join(opts.work, engine === 'docker' ? 'image.oci.tar' : 'oci');
  const b: DockerfileBuild = {
    engine,
    context: opts.context,
    dockerfile,
    tag: `localhost/brr-build:${opts.commit.slice(0, 12)}-${process.pid}`,
    epoch: opts.epoch,
    labels: opts.labels,
    out,
  };
  progress(`${engine}: building ${opts.dockerfile}`);
  try {
    await runEngine(buildArgv(b), opts.logFile, progress, opts.env);
    const exp = exportArgv(b);
    if (exp) await runEngine(exp, opts.logFile, () => {}, opts.env);
    return await importLayoutImage(opts.layout, out, path.join(opts.work, 'unpacked'));
  } finally {
    const rm = removeArgv(b);
    if (rm) await runEngine(rm, opts.logFile, () => {}, opts.env).catch(() => {});
  }
}

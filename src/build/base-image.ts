import { canonicalJson } from '../core/canonical-json.js';
import { BrrError, isBrrError } from '../core/errors.js';
import type { ImageSpec } from '../core/types.js';
import { RegistryClient } from '../registry/client.js';
import type { Transport } from '../registry/http.js';
import { hostPlatform, ociLayerType, parsePlatform } from '../registry/media-types.js';
import { pullImage, readLocalImage, type ImageConfigJson } from '../registry/pull.js';
import { formatImageRef, parseImageRef } from '../registry/reference.js';
import { APP_DIR, IMAGE_LABELS, goArch, type ImageResult } from '../store/image.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from '../store/oci-layout.js';
import { LAYER_ANNOTATION, type AppLayer } from './layers.js';

/**
 * `build.image`: the app layers appended onto a base image without any container engine (the
 * ko/jib approach). The base is resolved to one platform manifest digest, pulled into the local
 * store (so the result is complete and pushable), and pinned: its digest is part of the cache
 * key, a label and the standard base annotations. Same commit + same base digest ⇒ same image.
 */

export interface BaseImage {
  /** The reference as written in brr.yaml. */
  name: string;
  /** `registry/repo@sha256:…` of the platform manifest. */
  pinned: string;
  digest: string;
  layers: Descriptor[];
  config: ImageConfigJson;
}

export interface ResolveOptions {
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  transport?: Transport;
  progress?: (line: string) => void;
}

function withContext(e: unknown, base: string): unknown {
  if (!isBrrError(e)) return e;
  return new BrrError(e.code, `build.image.base ${base}: ${e.message}`, {
    exitCode: e.exitCode,
    hint: e.hint,
    details: e.details,
    cause: e,
  });
}

/**
 * Resolves `spec.base` for the requested platform. A digest reference already in the store
 * resolves offline; a tag always asks the registry (tags move).
 */
export async function resolveBase(
  layout: OciLayout,
  spec: ImageSpec,
  opts: ResolveOptions = {},
): Promise<BaseImage | null> {
  if (!spec.base) return null;
  try {
    const ref = parseImageRef(spec.base);
    const platform = spec.platform ? parsePlatform(spec.platform) : hostPlatform();
    let image = ref.digest ? await readLocalImage(layout, ref.digest, platform) : null;
    if (!image) {
      opts.progress?.(`base ${spec.base}: resolving`);
      const client = await RegistryClient.open({
        ref,
        actions: ['pull'],
        insecure: opts.insecure,
        env: opts.env,
        transport: opts.transport,
      });
      try {
        image = await pullImage(client, layout, ref.digest ?? ref.tag ?? 'latest', platform);
      } finally {
        client.close();
      }
    }
    const diffIds = image.config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== image.manifest.layers.length) {
      throw new BrrError(
        'image_unsupported',
        `its config lists ${diffIds?.length ?? 0} layers but its manifest ${image.manifest.layers.length}`,
        { hint: 'use another base image' },
      );
    }
    const pinned = formatImageRef({ registry: ref.registry, repository: ref.repository, digest: image.digest });
    opts.progress?.(`base ${pinned}`);
    return { name: spec.base, pinned, digest: image.digest, layers: image.manifest.layers, config: image.config };
  } catch (e) {
    throw withContext(e, spec.base);
  }
}

/** Base env (`K=V` list) with ours laid over it: replaced in place, new keys appended sorted. */
export function mergeEnv(base: unknown, ours: Record<string, string>): string[] {
  const list = Array.isArray(base) ? (base.filter((x) => typeof x === 'string') as string[]) : [];
  const out = list.map((kv) => {
    const k = kv.split('=')[0]!;
    return k in ours ? `${k}=${ours[k]}` : kv;
  });
  const have = new Set(list.map((kv) => kv.split('=')[0]!));
  for (const k of Object.keys(ours).sort()) if (!have.has(k)) out.push(`${k}=${ours[k]}`);
  return out;
}

/** The container config: the base's, then brr's WorkingDir and labels, then build.image settings. */
export function composeContainerConfig(
  base: Record<string, unknown> | undefined,
  labels: Record<string, string>,
  spec: ImageSpec | null,
): Record<string, unknown> {
  const c: Record<string, unknown> = { ...(base ?? {}) };
  c.WorkingDir = `/${APP_DIR}`;
  c.Labels = { ...((c.Labels as Record<string, string> | null) ?? {}), ...labels };
  if (!spec) return c;
  if (spec.entrypoint) {
    c.Entrypoint = spec.entrypoint;
    delete c.Cmd; // a new ENTRYPOINT resets the base's CMD, as in a Dockerfile
  }
  if (spec.cmd) c.Cmd = spec.cmd;
  if (spec.user) c.User = spec.user;
  if (spec.ports.length > 0) {
    const ports = { ...((c.ExposedPorts as Record<string, object> | null) ?? {}) };
    for (const p of spec.ports) ports[p] = {};
    c.ExposedPorts = ports;
  }
  if (Object.keys(spec.env).length > 0) c.Env = mergeEnv(c.Env, spec.env);
  return c;
}

export interface ComposeInput {
  base: BaseImage | null;
  /** build.image.init's layer: above the base, below the app, not annotated as an app layer. */
  init?: AppLayer | null;
  layers: AppLayer[];
  labels: Record<string, string>;
  spec: ImageSpec | null;
  /** Commit time, seconds: the config's `created` and the history entries'. */
  commitTime: number;
}

/** Writes config and manifest for base layers + app layers; returns the image. */
export async function composeImage(layout: OciLayout, input: ComposeInput): Promise<ImageResult> {
  const { base, layers } = input;
  const created = new Date(input.commitTime * 1000).toISOString();
  const labels = base ? { ...input.labels, [IMAGE_LABELS.base]: base.pinned } : input.labels;
  const config: Record<string, unknown> = base ? structuredClone(base.config) : { architecture: goArch(), os: 'linux' };
  config.created = created;
  config.config = composeContainerConfig(base?.config.config, labels, input.spec);
  config.rootfs = {
    type: 'layers',
    diff_ids: [
      ...(base?.config.rootfs?.diff_ids ?? []),
      ...(input.init ? [input.init.diffId] : []),
      ...layers.map((l) => l.diffId),
    ],
  };
  // History must list one entry per non-empty layer when present; a base without it gets none.
  if (base && Array.isArray(base.config.history)) {
    config.history = [
      ...base.config.history,
      ...(input.init ? [{ created, created_by: 'brr build (build.image.init)' }] : []),
      ...layers.map((l) => ({ created, created_by: `brr build (${l.name === 'app' ? '/app' : `/app/${l.name}`})` })),
    ];
  }
  const configDesc = await layout.putBlob(canonicalJson(config), MEDIA_TYPES.config);
  const multi = layers.length + (base?.layers.length ?? 0) + (input.init ? 1 : 0) > 1;
  const ours = layers.map((l) =>
    multi ? { ...l.descriptor, annotations: { [LAYER_ANNOTATION]: l.name } } : l.descriptor,
  );
  const theirs = (base?.layers ?? []).map((d) => ({
    mediaType: ociLayerType(d.mediaType),
    digest: d.digest,
    size: d.size,
    ...(d.annotations ? { annotations: d.annotations } : {}),
  }));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: configDesc,
    layers: [...theirs, ...(input.init ? [input.init.descriptor] : []), ...ours],
  };
  if (base)
    manifest.annotations = {
      'org.opencontainers.image.base.digest': base.digest,
      'org.opencontainers.image.base.name': base.name,
    };
  const manifestDesc = await layout.putBlob(canonicalJson(manifest), MEDIA_TYPES.manifest);
  const all = [...theirs, ...(input.init ? [input.init.descriptor] : []), ...ours];
  return {
    manifest: manifestDesc,
    config: configDesc,
    layers: all,
    size: manifestDesc.size + configDesc.size + all.reduce((n, l) => n + l.size, 0),
  };
}

/**
 * Which image reference a render names: the one the build was pushed to for this app, as
 * recorded by `brr push` (or by `brr run`'s own push). Never a reference made up from the
 * registry setting: `brr apps set nf --registry REG/nf` plus `brr push --to REG/nf` is
 * `REG/nf@sha256:…`, not `REG/nf/nf@sha256:…`, an image nobody pushed.
 */

/** `registry/repo[:tag]@sha256:…` → repository and digest; null for anything else. */
function splitPushed(pushed: string): { repo: string; digest: string } | null {
  const at = pushed.lastIndexOf('@');
  if (at < 0) return null;
  let repo = pushed.slice(0, at);
  const slash = repo.lastIndexOf('/');
  const colon = repo.lastIndexOf(':');
  if (colon > slash) repo = repo.slice(0, colon);
  return { repo, digest: pushed.slice(at + 1) };
}

/** Where `brr run` pushes a build its app's registry lacks (the convention brr always used). */
export function defaultPushTarget(registry: string, app: string): string {
  return `${registry.replace(/\/+$/, '')}/${app}`;
}

/**
 * The pinned reference of `digest` for an app whose target registry is `registry`: a recorded
 * push to exactly `registry`, else to `registry/<app>`; the newest record wins. Null when the
 * build was not pushed there (render refuses, run pushes).
 */
export function pushedReference(
  pushed: readonly string[],
  registry: string,
  app: string,
  digest: string,
): string | null {
  const reg = registry.replace(/\/+$/, '');
  const wanted = [reg, defaultPushTarget(reg, app)];
  const found = pushed
    .map(splitPushed)
    .filter((p): p is { repo: string; digest: string } => p !== null && p.digest === digest);
  for (const repo of wanted) if (found.some((p) => p.repo === repo)) return `${repo}@${digest}`;
  return null;
}

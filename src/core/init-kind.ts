/**
 * Which specialized init an executable is, by its file name. Shared by the build stage (it finds
 * or adds an init in the image) and the Kubernetes render (it puts that init at PID 1), which
 * must agree without one knowing the other.
 */

/** Which init a path names, by its file name (`tini`, `tini-static`, `dumb-init`). */
export function initKind(init: string): 'tini' | 'dumb-init' | null {
  const base = init.slice(init.lastIndexOf('/') + 1);
  if (base.includes('dumb-init')) return 'dumb-init';
  if (base.includes('tini')) return 'tini';
  return null;
}

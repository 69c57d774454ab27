/**
 * Which app a command acts on. Owns the precedence --app > BRR_APP > brr.yaml's `app:`. The YAML
 * parser is loaded only when brr.yaml must be read and its `app:` line is not a plain one-line
 * value (issue 13: read-only commands start near `node -e 0`; `yaml` alone costs ~20 ms).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { parseDocument as ParseDocument } from 'yaml';
import { invalidInput } from '../core/errors.js';
import { isValidAppName } from '../manifest/schema.js';

/**
 * The app a command acts on: --app, then BRR_APP, then `app:` in brr.yaml of the repo directory
 * (`--repo`/`--path`, default the current directory). Only the `app` key is read here; the build
 * validates the whole manifest from the commit, never from the work tree.
 */
export function resolveApp(opts: { app?: string; repo?: string; path?: string }, env: NodeJS.ProcessEnv): string {
  const explicit = opts.app ?? env.BRR_APP;
  if (explicit) {
    if (!isValidAppName(explicit)) {
      throw invalidInput(
        'app_invalid',
        `app name "${explicit}" is invalid: use lowercase letters, digits and dashes (at most 63)`,
        'pass --app with a valid name',
      );
    }
    return explicit;
  }
  const file = path.join(path.resolve(opts.repo ?? '.'), opts.path ?? '', 'brr.yaml');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const quick = plainAppLine(text);
    if (quick !== undefined) return quick;
    const { parseDocument } = createRequire(import.meta.url)('yaml') as { parseDocument: typeof ParseDocument };
    const raw = parseDocument(text).toJS() as { app?: unknown } | null;
    if (raw && typeof raw.app === 'string' && isValidAppName(raw.app)) return raw.app;
  }
  throw invalidInput(
    'app_missing',
    'no app given and no brr.yaml with an "app:" key here',
    'pass --app NAME, set BRR_APP, or run from a repo whose brr.yaml names the app',
  );
}

/**
 * The fast path: a single top-level `app: NAME` line (optionally quoted, optionally followed by a
 * comment) in a document without anchors, tags, flow mappings at the top, or a second document,
 * gives the same answer as the YAML parser. Anything else returns undefined and the parser decides.
 */
export function plainAppLine(text: string): string | undefined {
  if (/^(---|\.\.\.|%|[{[&*!?])/m.test(text)) return undefined;
  const lines = text.split(/\r?\n/).filter((l) => /^app\s*:/.test(l));
  if (lines.length !== 1) return undefined;
  const m = /^app\s*:\s*(?:"([a-z0-9-]+)"|'([a-z0-9-]+)'|([a-z0-9-]+))\s*(?:#.*)?$/.exec(lines[0]!);
  const name = m?.[1] ?? m?.[2] ?? m?.[3];
  return name !== undefined && isValidAppName(name) ? name : undefined;
}

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
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
    const raw = parseDocument(readFileSync(file, 'utf8')).toJS() as { app?: unknown } | null;
    if (raw && typeof raw.app === 'string' && isValidAppName(raw.app)) return raw.app;
  }
  throw invalidInput(
    'app_missing',
    'no app given and no brr.yaml with an "app:" key here',
    'pass --app NAME, set BRR_APP, or run from a repo whose brr.yaml names the app',
  );
}

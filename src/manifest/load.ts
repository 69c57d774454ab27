import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { invalidInput } from '../core/errors.js';
import type { Manifest } from '../core/types.js';
import { validateManifest } from './schema.js';

/** Parses a Heroku-style Procfile: `type: command` per line, `#` comments. */
export function parseProcfile(text: string, file = 'Procfile'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const m = /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(line);
    if (!m)
      throw invalidInput(
        'procfile_invalid',
        `${file}:${i + 1}: expected "type: command"`,
        'fix the Procfile and commit it',
      );
    const [, type, command] = m as unknown as [string, string, string];
    if (out[type] !== undefined)
      throw invalidInput(
        'procfile_invalid',
        `${file}:${i + 1}: process type "${type}" appears twice`,
        'fix the Procfile and commit it',
      );
    out[type] = command.trim();
  });
  return out;
}

/** Parses brr.yaml text (no filesystem), for tests and for the build stage. */
export function parseManifest(yamlText: string | null, file = 'brr.yaml', procfileText?: string | null): Manifest {
  let raw: unknown = {};
  if (yamlText !== null) {
    const doc = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      throw invalidInput(
        'manifest_invalid',
        `${file}${line ? `:${line}` : ''}: ${e.message.split('\n')[0]}`,
        'fix the YAML syntax',
      );
    }
    raw = doc.toJS() ?? {};
  }
  const procfile = procfileText != null ? parseProcfile(procfileText) : undefined;
  return validateManifest(raw, file, procfile);
}

/**
 * Reads `brr.yaml` (and `Procfile` when brr.yaml has no processes) from a directory. `where`
 * names it for the user: a build reads a temporary checkout whose path means nothing to them.
 */
export function loadManifest(dir: string, where = path.join(dir, 'brr.yaml')): Manifest {
  const yml = path.join(dir, 'brr.yaml');
  const proc = path.join(dir, 'Procfile');
  const yamlText = existsSync(yml) ? readFileSync(yml, 'utf8') : null;
  const procText = existsSync(proc) ? readFileSync(proc, 'utf8') : null;
  return manifestOfTexts(yamlText, procText, where);
}

/**
 * What loadManifest makes of a directory whose `brr.yaml` and `Procfile` hold these texts (null:
 * absent); a build packing straight from `git archive` reads them out of the archive.
 */
export function manifestOfTexts(yamlText: string | null, procText: string | null, where: string): Manifest {
  const m = parseManifest(yamlText, 'brr.yaml', procText);
  if (Object.keys(m.processes).length === 0) {
    throw invalidInput(
      'manifest_no_processes',
      `${where}: neither its "processes:" nor a Procfile declares a process`,
      'add a processes: section to brr.yaml or a Procfile',
    );
  }
  return m;
}

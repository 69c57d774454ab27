/**
 * The error-code catalog: docs/errors.md is exactly what the catalog generates, every code is
 * well-formed and still thrown somewhere, and BrrError takes its default exit code from it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CATEGORIES, ERROR_CODES, isErrorCode, renderErrorCodesMarkdown } from '../../src/core/error-codes.js';
import { BrrError, invalidInput } from '../../src/core/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
  );
}

describe('error codes', () => {
  it('docs/errors.md is generated from the catalog (run `npm run docs:errors` after changing it)', () => {
    expect(readFileSync(path.join(root, 'docs/errors.md'), 'utf8')).toBe(renderErrorCodesMarkdown());
  });

  it('every code is snake_case with a one-line meaning, a known category and exit code 1 or 2', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      expect(info.meaning, code).toMatch(/^[A-Z`].*[.]$/);
      expect(info.meaning, code).not.toContain('\n');
      expect(Object.keys(ERROR_CATEGORIES), code).toContain(info.category);
      expect([1, 2], code).toContain(info.exitCode);
    }
    expect(Object.keys(ERROR_CODES)).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('every catalogued code is still thrown somewhere in src (internal is the CLI fallback)', () => {
    const text = sources(path.join(root, 'src'))
      .filter((f) => !f.endsWith(path.join('core', 'error-codes.ts')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const unused = Object.keys(ERROR_CODES).filter((c) => !text.includes(`'${c}'`));
    expect(unused).toEqual([]);
  });

  it('BrrError takes its exit code from the catalog unless the thrower overrides it', () => {
    expect(new BrrError('manifest_invalid', 'x').exitCode).toBe(2);
    expect(new BrrError('build_failed', 'x').exitCode).toBe(1);
    expect(new BrrError('secret_key_missing', 'x', { exitCode: 2 }).exitCode).toBe(2);
    expect(invalidInput('usage', 'x').exitCode).toBe(2);
    expect(isErrorCode('tar_invalid')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    // @ts-expect-error an uncatalogued code does not compile
    expect(new BrrError('no_such_code', 'x').code).toBe('no_such_code');
  });
});

/**
 * A small JSON Schema checker for the subset docs/openapi.yaml uses ($ref, type (also as a list),
 * enum, const, properties, required, additionalProperties, items, oneOf, anyOf, minimum,
 * maximum, pattern), and the check of recorded answers against the document: each answer's
 * route, status and content type must be documented and its JSON body must match the schema.
 * Written here rather than adding ajv: the subset is small, and a checker that names the path
 * of the mismatch is all a test needs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Schema = Record<string, any>;

export const OPENAPI_FILE = path.resolve(import.meta.dirname, '..', '..', 'docs', 'openapi.yaml');

export function loadOpenApi(): Schema {
  return parse(readFileSync(OPENAPI_FILE, 'utf8')) as Schema;
}

function resolve(root: Schema, s: Schema): Schema {
  let cur = s;
  for (let i = 0; cur && typeof cur.$ref === 'string' && i < 20; i++) {
    const ref = cur.$ref as string;
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
    cur = ref
      .slice(2)
      .split('/')
      .reduce((o: any, k) => o?.[k], root);
    if (!cur) throw new Error(`dangling $ref ${ref}`);
  }
  return cur;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const KNOWN = new Set([
  '$ref',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'oneOf',
  'anyOf',
  'minimum',
  'maximum',
  'pattern',
  'description',
  'example',
  'default',
  'x-brr-event-data',
]);

/** Problems of `value` against `schema` (empty: valid). Unsupported keywords are an error, never ignored. */
export function validate(root: Schema, schema: Schema, value: unknown, at = '$'): string[] {
  const s = resolve(root, schema);
  for (const k of Object.keys(s))
    if (!KNOWN.has(k)) return [`${at}: schema keyword ${k} is not supported by the checker`];
  const errs: string[] = [];
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer')))
      return [`${at}: expected ${types.join('|')}, got ${t}`];
  }
  if (s.enum && !s.enum.some((e: unknown) => e === value))
    errs.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  if ('const' in s && s.const !== value) errs.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errs.push(`${at}: below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) errs.push(`${at}: above ${s.maximum}`);
  }
  if (typeof value === 'string' && s.pattern && !new RegExp(s.pattern, 'u').test(value))
    errs.push(`${at}: does not match ${s.pattern}`);
  if (s.oneOf) {
    const ok = (s.oneOf as Schema[]).filter((o) => validate(root, o, value, at).length === 0).length;
    if (ok !== 1) errs.push(`${at}: matches ${ok} of oneOf, not exactly 1`);
  }
  if (s.anyOf && !(s.anyOf as Schema[]).some((o) => validate(root, o, value, at).length === 0))
    errs.push(`${at}: matches none of anyOf`);
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of s.required ?? []) if (!(k in obj)) errs.push(`${at}: lacks required ${k}`);
    const props: Record<string, Schema> = s.properties ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validate(root, props[k], v, `${at}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${at}: unexpected property ${k}`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object')
        errs.push(...validate(root, s.additionalProperties, v, `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => errs.push(...validate(root, s.items, v, `${at}[${i}]`)));
  return errs;
}

export interface RecordedReply {
  method: string;
  path: string;
  status: number;
  contentType: string;
  json: unknown;
}

/** The document's path template matching a concrete path (`/assets/{file}` takes the rest). */
export function templateOf(doc: Schema, concrete: string): string | null {
  for (const t of Object.keys(doc.paths)) {
    const re = new RegExp(
      `^${t
        .split('/')
        .map((seg) =>
          seg === '{file}' ? '.+' : seg.startsWith('{') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}$`,
    );
    if (re.test(concrete)) return t;
  }
  return null;
}

/** Problems of a recorded answer against the document. */
export function checkReply(doc: Schema, r: RecordedReply): string[] {
  const t = templateOf(doc, r.path);
  if (!t) return [`${r.method} ${r.path}: no documented path`];
  const op = doc.paths[t][r.method.toLowerCase()];
  if (!op) return [`${r.method} ${t}: method not documented`];
  const resp0 = op.responses[String(r.status)] ?? (r.status >= 400 ? op.responses.default : undefined);
  if (!resp0) return [`${r.method} ${t}: status ${r.status} not documented`];
  const resp = resolve(doc, resp0);
  if (!resp.content)
    return r.status === 204 || r.json === undefined ? [] : [`${r.method} ${t} ${r.status}: body not documented`];
  const type = r.contentType.split(';')[0]!.trim();
  const media = resp.content[type] ?? resp.content['*/*'];
  if (!media) return [`${r.method} ${t} ${r.status}: content type ${type} not documented`];
  if (type !== 'application/json') return [];
  return validate(doc, media.schema, r.json).map((e) => `${r.method} ${t} ${r.status}: ${e}`);
}

/**
 * docs/openapi.yaml against the server: the same (method, path) pairs and roles as the route
 * table in src/serve/routes.ts. (Real answers are checked against its schemas at the end of
 * test/serve/api.test.ts, which has a running server.) Plus the schema checker's own cases, so a
 * checker that accepts everything cannot pass.
 */
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/serve/routes.js';
import { checkReply, loadOpenApi, templateOf, validate } from './openapi-check.js';

const doc = loadOpenApi();

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 and documents exactly the routes of the server, with their roles', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented: string[] = [];
    for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, { 'x-brr-role'?: string }>>))
      for (const [m, op] of Object.entries(item))
        if (['get', 'post', 'put', 'patch', 'delete'].includes(m))
          documented.push(`${m.toUpperCase()} ${p} ${op['x-brr-role']}`);
    const served = ROUTES.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\+\}/g, '{$1}')} ${r.role}`);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('resolves every $ref and names the auth schemes', () => {
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'session']);
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    for (const r of new Set(refs)) {
      const target = r.slice(8, -1).slice(2).split('/');
      const found = target.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      expect(found, r).toBeDefined();
    }
  });
});

describe('the schema checker', () => {
  const s = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  it('accepts a valid value and names the path of each problem', () => {
    expect(validate(doc, s('Session'), { name: 'a', role: 'viewer', csrf: null })).toEqual([]);
    expect(validate(doc, s('Session'), { name: 'a', role: 'root', csrf: 1, extra: true })).toEqual([
      '$.role: "root" not in ["viewer","deployer","admin"]',
      '$.csrf: expected string|null, got integer',
      '$: unexpected property extra',
    ]);
    expect(validate(doc, s('AppSummary'), { app: 'x' })[0]).toBe('$: lacks required target');
    expect(validate(doc, s('LogLine'), [])).toEqual(['$: expected object, got array']);
    expect(validate(doc, { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } }, { n: 0 })).toEqual([
      '$.n: below 1',
    ]);
    expect(validate(doc, { type: 'array', items: { type: 'string', pattern: '^v[0-9]+$' } }, ['v1', 'x'])).toEqual([
      '$[1]: does not match ^v[0-9]+$',
    ]);
    expect(validate(doc, { not: {} }, 1)[0]).toContain('not supported');
  });
  it('checks answers: undocumented status, content type and body', () => {
    expect(templateOf(doc, '/api/apps/x/releases/v1')).toBe('/api/apps/{app}/releases/{id}');
    expect(templateOf(doc, '/assets/a/b.js')).toBe('/assets/{file}');
    const reply = { method: 'GET', path: '/api/apps', contentType: 'application/json', status: 200 };
    expect(checkReply(doc, { ...reply, json: { apps: [] } })).toEqual([]);
    expect(checkReply(doc, { ...reply, json: { apps: [{}] } })[0]).toContain('lacks required app');
    expect(checkReply(doc, { ...reply, status: 201, json: {} })).toEqual(['GET /api/apps: status 201 not documented']);
    expect(checkReply(doc, { ...reply, status: 418, json: {} })).toEqual([
      'GET /api/apps 418: $: lacks required error',
    ]);
    expect(checkReply(doc, { ...reply, contentType: 'text/html', json: undefined })[0]).toContain('content type');
  });
});

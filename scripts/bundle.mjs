// Packs the compiled CLI (dist/cli/main.js and everything it imports, static or dynamic) into one
// CommonJS file, dist/brr.cjs, that bin/brr.js runs with a V8 code cache (issue 13). Node 20 has no
// module compile cache (module.enableCompileCache is Node 22), and resolving, reading and compiling
// some 60 ES modules per command cost about as much as Node's own start-up; one script compiled
// from a cache does not. npm packages other than commander stay outside (required from
// node_modules, only when the code that uses them first runs), and the library entry
// (dist/index.js) stays plain ESM.
//
// import.meta.url is replaced by the URL of dist/cli/main.js. That is right for every module that
// reads it because all of them sit one folder below dist/ (they resolve `../cli/main.js`, the
// package.json two folders up, or npm packages); this script refuses to bundle when one does not.
//
//   node scripts/bundle.mjs        (after tsc -p tsconfig.build.json; part of npm run build)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

function* jsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(p);
    else if (e.name.endsWith('.js')) yield p;
  }
}

const misplaced = [...jsFiles(DIST)]
  .filter((f) => readFileSync(f, 'utf8').includes('import.meta'))
  .map((f) => path.relative(DIST, f))
  .filter((rel) => rel.split(path.sep).length !== 2);
if (misplaced.length > 0) {
  console.error(
    `bundle: import.meta is used by ${misplaced.join(', ')}, not one folder below dist/; ` +
      'the bundle cannot give it its own URL (see scripts/bundle.mjs)',
  );
  process.exit(1);
}

await build({
  entryPoints: [path.join(DIST, 'cli', 'main.js')],
  outfile: path.join(DIST, 'brr.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // These npm packages load from node_modules: better-sqlite3 is native, and pg, yaml and the
  // Kubernetes client load only when used. commander, which every command needs, is packed in.
  // Not minified: a bug report's stack trace must stay readable, and the code cache makes the
  // source size nearly free. (keepNames would cost every start a call per function.)
  external: ['better-sqlite3', 'pg', 'yaml', '@kubernetes/client-node'],
  define: { 'import.meta.url': '__brrMainUrl' },
  banner: {
    js: `var __brrMainUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, 'cli', 'main.js')).href;`,
  },
  logLevel: 'warning',
});

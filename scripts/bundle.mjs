// Packs the compiled CLI (dist/cli/main.js and everything it imports, static or dynamic) into one
// CommonJS file, dist/brr.cjs, that bin/brr.js runs with a V8 code cache (issue 13), and the same
// once per command module of cli/command-table.ts into dist/bundles/<module>.cjs, where the
// table can load only that module: a command then reads, compiles and runs only its own part of
// the CLI (a push a fifth of it). dist/bundles/commands.json maps each command name to its
// bundle for bin/brr.js; help and unknown commands run dist/brr.cjs. Node 20 has no
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
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

// The command modules, in table order: each entry's load() imports exactly one of them.
const tableFile = path.join(DIST, 'cli', 'command-table.js');
const tableText = readFileSync(tableFile, 'utf8');
const IMPORT = /import\((['"])\.\/commands\/([\w-]+)\.js\1\)/g;
const modules = [...tableText.matchAll(IMPORT)].map((m) => m[2]);
const { commandTable, ROOT_VALUE_OPTIONS: rootValueOptions } = await import(new URL(`file://${tableFile}`).href);
if (
  modules.length !== commandTable.length ||
  commandTable.some((entry, i) => !String(entry.load).includes(`./commands/${modules[i]}.js`))
) {
  console.error('bundle: every entry of cli/command-table.js must import exactly one ./commands/<name>.js');
  process.exit(1);
}

/** esbuild options shared by every bundle; `mainFrom` is the path from the bundle's folder to dist/. */
const common = (outfile, mainFrom) => ({
  entryPoints: [path.join(DIST, 'cli', 'main.js')],
  outfile,
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
    js: `var __brrMainUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(mainFrom)}, 'cli', 'main.js')).href;`,
  },
  logLevel: 'warning',
});

/** Loads cli/command-table.js with every command module but `keep` replaced by a rejection. */
const onlyModule = (keep) => ({
  name: 'only-module',
  setup(b) {
    b.onLoad({ filter: /[\\/]cli[\\/]command-table\.js$/ }, () => ({
      loader: 'js',
      contents: tableText.replace(IMPORT, (all, _q, name) =>
        name === keep
          ? all
          : `Promise.reject(new Error(${JSON.stringify(`brr: ./commands/${name}.js is not in the ${keep} bundle`)}))`,
      ),
    }));
  },
});

const BUNDLES = path.join(DIST, 'bundles');
rmSync(BUNDLES, { recursive: true, force: true });
mkdirSync(BUNDLES);
await Promise.all([
  build(common(path.join(DIST, 'brr.cjs'), '.')),
  ...modules.map((name) => build({ ...common(path.join(BUNDLES, `${name}.cjs`), '..'), plugins: [onlyModule(name)] })),
]);
const commands = {};
commandTable.forEach((entry, i) => {
  for (const n of entry.names) commands[n] = `${modules[i]}.cjs`;
});
// With the root options that take a value, so bin/brr.js finds the command name exactly as
// cli/command-table.ts's commandNameOf does (a wrong pick would load a bundle without the command).
writeFileSync(
  path.join(BUNDLES, 'commands.json'),
  JSON.stringify({ rootValueOptions: [...rootValueOptions], commands }, null, 2) + '\n',
);

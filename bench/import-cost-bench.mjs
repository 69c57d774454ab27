// Import cost per module: what loading each compiled module of brr costs a fresh process, and
// which npm packages it drags in. A command pays for everything its modules import at the top,
// so this is where "load nothing a command does not use" is checked. Run `npm run build` first;
// prints a markdown section on stdout.
//
//   node bench/import-cost-bench.mjs [--runs N] [--top N]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 3);
const TOP = arg('--top', 30);
const DIST = path.join(ROOT, 'dist');

function modules(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : [],
  );
}

// In the child: time the import, then list the npm packages now loaded (CommonJS ones sit in
// require.cache; ESM packages are found through the loader's resolve cache of import.meta).
const probe = (file) => `
import { createRequire } from 'node:module';
const t0 = performance.now();
await import(${JSON.stringify(pathToFileURL(file).href)});
const ms = performance.now() - t0;
const require = createRequire(import.meta.url);
const pkgs = new Set();
for (const k of Object.keys(require.cache)) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k);
  if (m) pkgs.add(m[1]);
}
process.stdout.write(JSON.stringify({ ms, pkgs: [...pkgs].sort() }));`;

function measure(file) {
  const times = [];
  let pkgs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe(file)], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0) return { ms: NaN, pkgs: [`(failed: ${r.stderr.split('\n')[0]})`] };
    const o = JSON.parse(r.stdout);
    times.push(o.ms);
    pkgs = o.pkgs;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], pkgs };
}

const files = modules(DIST);
const results = [];
for (const f of files) {
  process.stderr.write(`import-cost: ${path.relative(DIST, f)}\n`);
  results.push({ file: path.relative(DIST, f), ...measure(f) });
}
// Each package alone, for the "what does X cost" column.
const pkgCost = {};
for (const p of ['pg', 'yaml', 'better-sqlite3', 'commander', '@kubernetes/client-node']) {
  let file;
  try {
    file = spawnSync(process.execPath, ['-p', `require.resolve(${JSON.stringify(p)})`], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout.trim();
  } catch {}
  if (file) pkgCost[p] = measure(file).ms;
}
const fetchCost = (() => {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      'const t=performance.now(); globalThis.fetch; new Response(""); process.stdout.write(String(performance.now()-t))',
    ],
    { encoding: 'utf8' },
  );
  return Number(r.stdout);
})();

results.sort((a, b) => b.ms - a.ms);
const out = [];
out.push('## Import cost per module', '');
out.push(
  `\`node bench/import-cost-bench.mjs --runs ${RUNS}\` (after \`npm run build\`): each compiled module imported alone in a`,
  `fresh process (median of ${RUNS}), and the npm packages it loads at its top level. Node ${process.version}.`,
  '',
);
out.push('| package alone | import |', '|---|---:|');
for (const [p, ms] of Object.entries(pkgCost))
  out.push(`| \`${p}\` | ${Number.isNaN(ms) ? '—' : `${ms.toFixed(1)} ms`} |`);
out.push(`| global \`fetch\`/\`Response\` (undici, loaded on first use) | ${fetchCost.toFixed(1)} ms |`, '');
out.push(`The ${TOP} most expensive of ${results.length} modules:`, '');
out.push('| module | import | npm packages loaded |', '|---|---:|---|');
for (const r of results.slice(0, TOP))
  out.push(`| \`${r.file}\` | ${Number.isNaN(r.ms) ? '—' : `${r.ms.toFixed(1)} ms`} | ${r.pkgs.join(', ') || '—'} |`);
const withPg = results.filter((r) => r.pkgs.includes('pg')).map((r) => r.file);
const withYaml = results.filter((r) => r.pkgs.includes('yaml')).map((r) => r.file);
out.push(
  '',
  `Modules that load \`pg\` (${withPg.length}): ${withPg.map((f) => `\`${f}\``).join(', ') || 'none'}.`,
  '',
  `Modules that load \`yaml\` (${withYaml.length}): ${withYaml.map((f) => `\`${f}\``).join(', ') || 'none'}.`,
  '',
);
process.stdout.write(out.join('\n'));

// `npm run bench`: runs every benchmark in bench/ and writes docs/benchmarks.md.
// Each bench prints a markdown section on stdout; progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const benches = [
  'build-bench.mjs',
  'ledger-bench.mjs',
  'ledger-pg-bench.mjs',
  'run-bench.mjs',
  'materialize-bench.mjs',
  'switch-bench.mjs',
  'switch-latency-bench.mjs',
  'proxy-bench.mjs',
  'render-bench.mjs',
  'push-bench.mjs',
  'alternatives-bench.mjs',
  'import-cost-bench.mjs',
  'cli-startup-bench.mjs',
  'api-bench.mjs',
  'dashboard-bench.mjs',
];
const only = process.argv.slice(2);
const sections = [];
for (const b of benches) {
  if (only.length && !only.some((o) => b.startsWith(o))) continue;
  process.stderr.write(`bench: ${b}\n`);
  const r = spawnSync(process.execPath, [path.join(here, b)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${b} failed (exit ${r.status})\n`);
    process.exit(1);
  }
  sections.push(r.stdout.trim());
}
const header = `# Benchmarks

Produced by \`npm run bench\` (which runs \`node bench/run.mjs\`; a single section with e.g.
\`node bench/run.mjs ledger\`). Each section names the script that produced it.

- date: ${new Date().toISOString()}
- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}
- node: ${process.version}

These machines are shared and noisy: compare numbers within one run (ratios), not across runs.
`;
if (only.length) {
  process.stdout.write(`${sections.join('\n\n')}\n`);
} else {
  writeFileSync(path.join(here, '..', 'docs', 'benchmarks.md'), `${header}\n${sections.join('\n\n')}\n`);
  process.stderr.write('bench: wrote docs/benchmarks.md\n');
}

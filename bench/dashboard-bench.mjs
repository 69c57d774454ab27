// Dashboard first load (issue 12): what the page costs a browser arriving cold. A fresh home with
// the sample app released once (not running: the list shows a badge either way), a viewer token,
// `brr serve --listen 127.0.0.1:0`, and Debian's headless chromium through playwright-core.
// - size: every response the signed-in page loads up to a rendered apps list (static files and
//   API answers), decoded bytes, bytes on the wire when the server compresses, and gzip -6 of
//   each file for reference;
// - time: cold loads (a new browser context each, so no cache; the session cookie is set before
//   the clock starts), from navigation start to the first app row in the DOM, read in the page.
// Run `npm run build` first; prints a markdown section on stdout.
//
//   node bench/dashboard-bench.mjs [--runs N]
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { BRR, sandbox, stats } from './lib.mjs';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 7;
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function startServe(sb) {
  const child = spawn(process.execPath, [BRR, 'serve', '--listen', '127.0.0.1:0'], {
    cwd: sb.repo,
    env: { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      const m = /https?:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`brr serve exited ${code}: ${out}`)));
  });
}

const { chromium } = await import('playwright-core');
const sb = await sandbox();
let serve;
let browser;
let version = 'chromium';
const files = new Map();
const times = [];
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=a');
  sb.brr('release');
  const { token } = JSON.parse(sb.brr('tokens', 'create', 'bench', '--role', 'viewer', '--json'));
  serve = await startServe(sb);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  version = `chromium ${browser.version()}`;

  for (let r = 0; r < RUNS + 1; r++) {
    const context = await browser.newContext();
    const login = await context.request.post(`${serve.url}/api/session`, { data: { token } });
    if (!login.ok()) throw new Error(`sign-in failed: ${login.status()}`);
    const page = await context.newPage();
    const seen = [];
    if (r === 1) {
      page.on('response', (res) => {
        if (!res.url().startsWith(serve.url) || res.url().includes('/api/events') || res.url().includes('/logs'))
          return;
        seen.push(
          res.body().then((body) => {
            const u = new URL(res.url());
            const enc = res.headers()['content-encoding'] ?? null;
            files.set(`${u.pathname}${u.search}`, {
              bytes: body.length,
              encoding: enc,
              wire: Number(res.headers()['content-length'] ?? NaN),
              gzip: gzipSync(body, { level: 6 }).length,
            });
          }),
        );
      });
    }
    // A MutationObserver notes the moment the first app row enters the DOM (exact, unlike polling).
    await page.addInitScript(() => {
      const d = globalThis.document;
      new globalThis.MutationObserver((_, obs) => {
        if (d.querySelector('table.apps tbody tr[data-app]')) {
          globalThis.appsListAt = performance.now();
          obs.disconnect();
        }
      }).observe(d, { childList: true, subtree: true });
    });
    await page.goto(`${serve.url}/`);
    const at = await page.waitForFunction(() => globalThis.appsListAt ?? null, null, { timeout: 20_000 });
    const ms = await at.jsonValue();
    await Promise.all(seen);
    if (r > 0) times.push(ms); // the first load warms the server, not the browser
    await context.close();
    process.stderr.write(`dashboard: load ${r}: ${ms.toFixed(1)} ms\n`);
  }
} finally {
  await browser?.close();
  serve?.child.kill('SIGTERM');
  sb.cleanup();
}

const rows = [...files.entries()].sort(([a], [b]) => a.startsWith('/api') - b.startsWith('/api') || a.localeCompare(b));
const staticRows = rows.filter(([p]) => !p.startsWith('/api'));
const sum = (xs, k) => xs.reduce((n, [, f]) => n + f[k], 0);
const compressed = rows.some(([, f]) => f.encoding);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const s = stats(times);
const out = [
  '## Dashboard first load',
  '',
  `\`node bench/dashboard-bench.mjs --runs ${RUNS}\` (after \`npm run build\`): \`brr serve\` on 127.0.0.1, a signed-in`,
  `viewer, headless Debian chromium (${version}) through playwright-core; one app with one release.`,
  compressed
    ? 'The server compresses: "wire" is what crossed the socket.'
    : 'The server sends files uncompressed (loopback, no `Content-Encoding`); "gzip" is what `gzip -6` would make of each, for reference.',
  '',
  '| file | bytes | gzip |' + (compressed ? ' wire |' : ''),
  '|---|---:|---:|' + (compressed ? '---:|' : ''),
  ...rows.map(
    ([p, f]) =>
      `| \`${p}\` | ${f.bytes} | ${f.gzip} |` + (compressed ? ` ${Number.isNaN(f.wire) ? '—' : f.wire} |` : ''),
  ),
  `| **static files (${staticRows.length})** | **${sum(staticRows, 'bytes')}** (${kb(sum(staticRows, 'bytes'))}) | **${sum(staticRows, 'gzip')}** (${kb(sum(staticRows, 'gzip'))}) |` +
    (compressed ? ' |' : ''),
  `| **everything (${rows.length})** | **${sum(rows, 'bytes')}** | **${sum(rows, 'gzip')}** |` +
    (compressed ? ' |' : ''),
  '',
  `Time to a rendered apps list (navigation start → first app row), ${s.n} cold loads: median **${s.median.toFixed(1)} ms**,`,
  `p90 ${s.p90.toFixed(1)} ms, min ${s.min.toFixed(1)} ms, max ${s.max.toFixed(1)} ms.`,
  '',
];
process.stdout.write(out.join('\n'));

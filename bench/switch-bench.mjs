// Zero-downtime switches under load: requests per second in steady state vs during a switch,
// failed requests, lost datagrams, and how long each switch took.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BRR, fmt, sandbox, stats } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sb = await sandbox((y) => y.replace('timeout: 15s', 'timeout: 15s, interval: 50ms'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function cli(...args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [BRR, ...args], {
      cwd: sb.repo,
      env: { ...process.env, BRR_HOME: sb.home },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) =>
      code === 0 ? resolve({ start: t0, end: performance.now() }) : reject(new Error(`brr ${args.join(' ')}: ${err}`)),
    );
  });
}
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=a');
  sb.brr('release');
  sb.brr('run');
  const durationMs = 16_000;
  const load = spawn(
    process.execPath,
    [path.join(here, 'load.mjs'), String(sb.httpPort), String(sb.udpPort), String(durationMs), '16', '2'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let outText = '';
  load.stdout.on('data', (d) => (outText += d));
  const loadStart = performance.now();
  const exited = new Promise((r) => load.on('exit', r));
  await sleep(3000);
  const windows = [];
  for (const step of [['config', 'set', 'GREETING=b'], ['config', 'set', 'GREETING=c'], ['rollback'], ['rollback']]) {
    const w = await cli(...step);
    windows.push({ what: `brr ${step.join(' ')}`, start: w.start - loadStart, end: w.end - loadStart });
    await sleep(1500);
  }
  await exited;
  const { done, failures, sent, lost } = JSON.parse(outText);
  const inWindow = (t) => windows.some((w) => t >= w.start && t <= w.end);
  const switchMs = windows.reduce((a, w) => a + (w.end - w.start), 0);
  const steadyMs = 3000 - 200; // before the first switch, minus warm-up
  const steady = done.filter((t) => t >= 200 && t < 3000).length / (steadyMs / 1000);
  const during = done.filter(inWindow).length / (switchMs / 1000);
  const s = stats(windows.map((w) => w.end - w.start));
  process.stdout.write(`## Switches under load (local supervisor)

\`node bench/switch-bench.mjs\` — sample NF, 16 keep-alive HTTP clients plus one UDP datagram
every 2 ms for ${durationMs / 1000} s; four switches (two config changes, two rollbacks), each
measured from the CLI command's start to its exit.

| measure | value |
|---|---|
| requests completed | ${done.length} |
| failed or refused requests | ${failures.length}${failures.length ? ` (${[...new Set(failures.map((f) => f.err))].join(', ')})` : ''} |
| UDP datagrams sent / lost | ${sent} / ${lost.length} |
| requests/s, steady state | ${steady.toFixed(0)} |
| requests/s, during switches | ${during.toFixed(0)} (ratio ${(during / steady).toFixed(2)}) |
| switch command time, median (min–max) | ${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) |

The switch time includes the CLI's Node start-up, the ledger append, the new process's start-up
and its first passing health check (checked every 50 ms), then the old process's drain
(the sample drains for 300 ms before closing).
`);
} finally {
  sb.cleanup();
}

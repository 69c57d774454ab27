// Run stage: time from `brr rollback` to the old release answering on its port, and from a
// process crash (SIGKILL) to a new process answering.
import { spawn } from 'node:child_process';
import { BRR, fmt, sandbox, stats } from './lib.mjs';

const sb = await sandbox((y) => y.replace('timeout: 15s', 'timeout: 15s, interval: 20ms'));
const get = async () => JSON.parse(await (await fetch(`http://127.0.0.1:${sb.httpPort}/`)).text());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=one');
  sb.brr('release');
  sb.brr('run');
  sb.brr('config', 'set', 'GREETING=two');

  // Rollback: command start → the restored greeting answers on the port.
  const rollback = [];
  for (let i = 0; i < 8; i++) {
    const want = (await get()).greeting === 'two' ? 'one' : 'two';
    const t0 = performance.now();
    const child = spawn(process.execPath, [BRR, 'rollback'], {
      cwd: sb.repo,
      env: { ...process.env, BRR_HOME: sb.home },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.on('exit', r));
    for (;;) {
      try {
        if ((await get()).greeting === want) break;
      } catch {}
      await sleep(2);
    }
    rollback.push(performance.now() - t0);
    await exited;
  }

  // Crash: SIGKILL the process → a new pid answers.
  const restart = [];
  // The supervisor restarts the first crash at once and backs off on repeated ones; it resets
  // after 10 s of stable running, so each sample waits that long to measure a first crash.
  for (let i = 0; i < 4; i++) {
    await sleep(10_500);
    const { pid } = await get();
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        if ((await get()).pid !== pid) break;
      } catch {}
      await sleep(1);
    }
    restart.push(performance.now() - t0);
  }
  const r = stats(rollback);
  const c = stats(restart);
  process.stdout.write(`## Run stage (local supervisor)

\`node bench/run-bench.mjs\` — sample NF (\`examples/udp-counter\`), health check every 20 ms.

| measure | n | median | p90 | min | max |
|---|---|---|---|---|---|
| \`brr rollback\` → old release answering | ${r.n} | ${fmt(r.median)} | ${fmt(r.p90)} | ${fmt(r.min)} | ${fmt(r.max)} |
| crash (SIGKILL) → new process answering | ${c.n} | ${fmt(c.median)} | ${fmt(c.p90)} | ${fmt(c.min)} | ${fmt(c.max)} |

The rollback includes starting the CLI (Node start-up), the ledger append, starting the new
process beside the old one and its health check. The restart is the supervisor's reaction plus
the sample's own Node start-up (most of it); the goal is < 100 ms. Each sample is a first crash
after 10 s of stable running: repeated crashes back off exponentially (0.2 s, 0.4 s, … capped).
`);
} finally {
  sb.cleanup();
}

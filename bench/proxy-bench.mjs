// What `handoff: proxy` costs: one trivial Node HTTP app (and a UDP echo) reached directly, through
// a socket handed over by the supervisor (`handoff: fds`, no copy) and through the supervisor's
// proxy. HTTP: 16 keep-alive connections, requests/s and p50/p99 latency. UDP: a window of
// datagrams in flight, echoes/s. CPU time of the app, the supervisor and the load generator is
// read from /proc to show where the proxy's cost goes.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BRR, freePort } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MS = Number(process.env.PROXY_BENCH_MS ?? 5000);
const ROUNDS = Number(process.env.PROXY_BENCH_ROUNDS ?? 2);

const APP = `const http = require('http');
const dgram = require('dgram');
const names = (process.env.LISTEN_FDNAMES || '').split(':');
const fd = (n) => (names.indexOf(n) >= 0 ? 3 + names.indexOf(n) : undefined);
const s = http.createServer((q, r) => { r.setHeader('content-type', 'text/plain'); r.end('hello world\\n'); });
s.keepAliveTimeout = 60000;
if (fd('http') !== undefined) s.listen({ fd: fd('http') }); else s.listen(Number(process.env.PORT_HTTP || process.env.PORT), '127.0.0.1');
const u = dgram.createSocket('udp4');
u.on('message', (m, from) => u.send(m, from.port, from.address));
if (fd('data') !== undefined) u.bind({ fd: fd('data') }); else u.bind(Number(process.env.PORT_DATA), '127.0.0.1');
`;

const dir = mkdtempSync(path.join(tmpdir(), 'brr-proxy-bench-'));
const home = path.join(dir, 'home');
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}
function brr(cwd, ...args) {
  const r = spawnSync(process.execPath, [BRR, ...args], {
    cwd,
    env: { ...process.env, BRR_HOME: home, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`brr ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function deployApp(name, handoff) {
  const repo = path.join(dir, name);
  const httpPort = await freePort();
  const udpPort = await freePort();
  spawnSync('mkdir', ['-p', repo]);
  writeFileSync(path.join(repo, 'app.js'), APP);
  writeFileSync(
    path.join(repo, 'brr.yaml'),
    `app: ${name}\nprocesses:\n  web:\n    command: node app.js\n    ports:\n      - { name: http, port: ${httpPort}, protocol: tcp, handoff: ${handoff} }\n      - { name: data, port: ${udpPort}, protocol: udp, handoff: ${handoff} }\n`,
  );
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@x.invalid',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@x.invalid',
  };
  for (const a of [
    ['init', '-q', '-b', 'main'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'bench'],
  ])
    spawnSync('git', a, { cwd: repo, env });
  brr(repo, 'deploy');
  const ps = JSON.parse(brr(repo, 'ps', '--json'));
  return { httpPort, udpPort, appPid: ps.find((p) => p.app === name).pid };
}
function load(mode, port, n) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(here, 'proxy-load.mjs'), mode, String(port), String(n), String(MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) =>
      code === 0 ? resolve({ ...JSON.parse(out), loadPid: c.pid }) : reject(new Error(`load ${mode} exit ${code}`)),
    );
  });
}
async function measure(mode, target, supPid) {
  const before = { app: cpuMs(target.appPid), sup: supPid ? cpuMs(supPid) : 0 };
  const r = await load(mode, mode === 'http' ? target.httpPort : target.udpPort, mode === 'http' ? 16 : 64);
  const n = mode === 'http' ? r.requests : r.received;
  return {
    ...r,
    appCpuPerK: ((cpuMs(target.appPid) - before.app) / n) * 1000,
    supCpuPerK: supPid ? ((cpuMs(supPid) - before.sup) / n) * 1000 : 0,
  };
}

const BARE_PROXY = `const net = require('net');
const [listen, to] = process.argv.slice(1).map(Number);
net.createServer({ noDelay: true }, (c) => {
  const u = net.connect({ port: to, host: '127.0.0.1', noDelay: true });
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
}).listen(listen, '127.0.0.1');
`;

let direct;
let bare;
try {
  // Direct: the same app started by hand on its own ports.
  const dPorts = { httpPort: await freePort(), udpPort: await freePort() };
  direct = spawn(process.execPath, ['-e', APP], {
    env: { PATH: process.env.PATH, PORT_HTTP: String(dPorts.httpPort), PORT_DATA: String(dPorts.udpPort) },
    stdio: 'ignore',
    // Its own session, like the supervisor and its children: with the kernel's autogroup
    // scheduling (on here) each session gets an equal CPU share under contention, and an app in
    // the load generator's session would otherwise be favoured.
    detached: true,
  });
  const fds = await deployApp('bench-fds', 'fds');
  const proxy = await deployApp('bench-proxy', 'proxy');
  const supPid = Number(
    readFileSync(path.join(home, 'run', 'supervisor.pid'), 'utf8')
      .trim()
      .split(' ')[0],
  );
  // The least a Node L4 proxy can do (net + pipe, one process), in front of the direct app: what
  // the supervisor's proxy is compared with when it falls short.
  const barePort = await freePort();
  bare = spawn(process.execPath, ['-e', BARE_PROXY, String(barePort), String(dPorts.httpPort)], {
    stdio: 'ignore',
    detached: true,
  });
  await new Promise((r) => setTimeout(r, 300));
  const targets = {
    direct: { ...dPorts, appPid: direct.pid },
    fds,
    proxy,
    'bare node proxy': { httpPort: barePort, appPid: direct.pid },
  };
  process.stderr.write(`proxy-bench: ${JSON.stringify({ supPid, targets })}\n`);
  await new Promise((r) => setTimeout(r, 500));
  const res = { direct: [], fds: [], proxy: [], 'bare node proxy': [] };
  const udp = { fds: [], proxy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const k of ['direct', 'fds', 'proxy', 'bare node proxy']) {
      process.stderr.write(`proxy-bench: http ${k} round ${round + 1}\n`);
      res[k].push(await measure('http', targets[k], k === 'proxy' ? supPid : k === 'bare node proxy' ? bare.pid : 0));
    }
    for (const k of ['fds', 'proxy']) {
      process.stderr.write(`proxy-bench: udp ${k} round ${round + 1}\n`);
      udp[k].push(await measure('udp', targets[k], k === 'proxy' ? supPid : 0));
    }
  }
  const mean = (xs, f) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const row = (k) => {
    const xs = res[k];
    const fwd = k === 'proxy' || k === 'bare node proxy' ? `${mean(xs, (x) => x.supCpuPerK).toFixed(0)} ms` : '–';
    return `| ${k} | ${mean(xs, (x) => x.perSec).toFixed(0)} | ${mean(xs, (x) => x.p50).toFixed(2)} ms | ${mean(xs, (x) => x.p99).toFixed(2)} ms | ${xs.reduce((a, x) => a + x.failed, 0)} | ${mean(xs, (x) => x.appCpuPerK).toFixed(0)} ms | ${fwd} |`;
  };
  const fdsRate = mean(res.fds, (x) => x.perSec);
  const proxyRate = mean(res.proxy, (x) => x.perSec);
  const addedP99 = mean(res.proxy, (x) => x.p99) - mean(res.fds, (x) => x.p99);
  const udpRow = (k) =>
    `| ${k} | ${mean(udp[k], (x) => x.perSec).toFixed(0)} | ${mean(udp[k], (x) => x.sent - x.received).toFixed(0)} | ${mean(udp[k], (x) => x.appCpuPerK).toFixed(0)} ms | ${k === 'proxy' ? `${mean(udp[k], (x) => x.supCpuPerK).toFixed(0)} ms` : '–'} |`;
  process.stdout.write(`## Proxy vs socket hand-off (local supervisor)

\`node bench/proxy-bench.mjs\` — a trivial Node HTTP app and UDP echo, reached directly, through the
supervisor's socket hand-off (\`handoff: fds\`) and through its proxy (\`handoff: proxy\`); mean of
${ROUNDS} interleaved rounds of ${MS / 1000} s each. HTTP: 16 keep-alive connections, one request at a
time each. UDP: one client keeping 64 datagrams in flight. CPU per 1000 requests (or datagrams) from
/proc, for the app and for the process that forwards (the supervisor, or the bare proxy).

| HTTP | requests/s | p50 | p99 | failed | app CPU / 1000 | forwarder CPU / 1000 |
|---|---|---|---|---|---|---|
${row('direct')}
${row('fds')}
${row('proxy')}
${row('bare node proxy')}

proxy / fds throughput: **${(proxyRate / fdsRate).toFixed(2)}×** (goal ≥ 0.6×); p99 added by the proxy: **${addedP99.toFixed(2)} ms** (goal < 1 ms).

| UDP | echoes/s | not echoed (of those sent) | app CPU / 1000 | supervisor CPU / 1000 |
|---|---|---|---|---|
${udpRow('fds')}
${udpRow('proxy')}

proxy / fds UDP throughput: **${(mean(udp.proxy, (x) => x.perSec) / mean(udp.fds, (x) => x.perSec)).toFixed(2)}×**.

Why the proxy costs what it does: every request crosses one more process, and forwarding it costs
the supervisor about as much CPU as the app spends answering it (the forwarder column), the same
as the bare \`net\` + \`pipe\` Node proxy in the last row: the limit is Node's per-hop cost
(a read and a write system call per direction, a buffer and a few callbacks per chunk), not brr's
code. On these 2 shared cores that CPU is taken from the app and the client, hence the lower
throughput and the longer tail. What would get closer to \`fds\`: \`splice(2)\` between the two
sockets (no copy into user space) in a small native addon or a non-Node forwarder; batched
\`recvmmsg\`/\`sendmmsg\` for UDP; kernel forwarding (nftables DNAT, or an eBPF sockmap
redirect) so no process touches the bytes; or \`handoff: fds\` for apps that can take sockets.
Processes under the supervisor run in sessions of their own, so the direct app is started in its
own session too (with the kernel's autogroup scheduling, on here, that changes the CPU share).
`);
} finally {
  direct?.kill();
  bare?.kill();
  spawnSync(process.execPath, [BRR, 'shutdown'], { env: { ...process.env, BRR_HOME: home } });
  rmSync(dir, { recursive: true, force: true });
}

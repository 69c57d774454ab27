// A small load generator run as its own process: HTTP requests over keep-alive connections
// (concurrency C) plus a stream of numbered UDP datagrams, for DURATION ms. It prints one JSON
// line: per-request completion times, failures, and which datagrams were echoed.
import http from 'node:http';
import dgram from 'node:dgram';

const [httpPort, udpPort, durationMs, concurrency, udpEveryMs] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const t0 = performance.now();
const done = [];
const failures = [];
let stop = false;

function once() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`));
    });
    req.on('error', (e) => resolve(e.code ?? e.message));
  });
}
async function worker() {
  while (!stop) {
    const err = await once();
    const at = performance.now() - t0;
    if (err) failures.push({ at, err });
    else done.push(Math.round(at));
  }
}

const udp = dgram.createSocket('udp4');
const echoed = new Set();
let sent = 0;
udp.on('message', (m) => {
  const s = String(m);
  if (s.startsWith('echo:seq-')) echoed.add(Number(s.slice(9)));
});
await new Promise((r) => udp.bind(0, '127.0.0.1', r));
const udpTimer = setInterval(() => udp.send(`seq-${sent++}`, udpPort, '127.0.0.1'), udpEveryMs);

setTimeout(() => {
  stop = true;
  clearInterval(udpTimer);
}, durationMs);
await Promise.all(Array.from({ length: concurrency }, worker));
await new Promise((r) => setTimeout(r, 500)); // late echoes
udp.close();
agent.destroy();
const lost = [];
for (let i = 0; i < sent; i++) if (!echoed.has(i)) lost.push(i);
process.stdout.write(JSON.stringify({ done, failures, sent, lost }) + '\n');

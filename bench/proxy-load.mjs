// Load generator for proxy-bench, run as its own process so it does not share an event loop
// with what it measures. `http PORT CONNS MS`: CONNS keep-alive connections, each sending one
// GET at a time over a raw socket (less client overhead than http.Agent), per-request latency.
// `udp PORT WINDOW MS`: one socket keeping WINDOW datagrams in flight, echoes counted.
// Prints one JSON line.
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, portArg, nArg, msArg] = process.argv.slice(2);
const port = Number(portArg);
const n = Number(nArg);
const ms = Number(msArg);
const until = performance.now() + ms;

if (mode === 'http') {
  const lat = [];
  let failed = 0;
  const REQ = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
  const conn = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let buf = '';
      let t0 = 0;
      const send = () => {
        if (performance.now() >= until) return void s.end();
        t0 = performance.now();
        s.write(REQ);
      };
      s.on('connect', send);
      s.on('data', (d) => {
        buf += d;
        for (;;) {
          const head = buf.indexOf('\r\n\r\n');
          if (head < 0) return;
          const m = /content-length: (\d+)/i.exec(buf.slice(0, head));
          const total = head + 4 + Number(m?.[1] ?? 0);
          if (buf.length < total) return;
          if (!buf.startsWith('HTTP/1.1 200')) failed++;
          buf = buf.slice(total);
          lat.push(performance.now() - t0);
          send();
        }
      });
      s.on('error', () => {
        failed++;
        resolve();
      });
      s.on('close', resolve);
    });
  await Promise.all(Array.from({ length: n }, conn));
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  process.stdout.write(
    JSON.stringify({ requests: lat.length, failed, perSec: lat.length / (ms / 1000), p50: q(0.5), p99: q(0.99) }) +
      '\n',
  );
} else {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  let received = 0;
  let sent = 0;
  const fire = () => {
    if (performance.now() < until) {
      sent++;
      s.send('ping', port, '127.0.0.1');
    }
  };
  s.on('message', () => {
    received++;
    fire();
  });
  for (let i = 0; i < n; i++) fire();
  // A lost datagram shrinks the window; refill it when nothing came back for 50 ms.
  let seen = -1;
  const topUp = setInterval(() => {
    if (received === seen) for (let i = 0; i < n; i++) fire();
    seen = received;
  }, 50);
  await new Promise((r) => setTimeout(r, ms + 300));
  clearInterval(topUp);
  s.close();
  process.stdout.write(JSON.stringify({ sent, received, perSec: received / (ms / 1000) }) + '\n');
}

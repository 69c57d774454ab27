// Sample network function: a UDP echo/counter (port "data") with an HTTP endpoint (port "http")
// serving / (who am I), /healthz and /metrics. Takes its sockets from the brr supervisor.
import http from 'node:http';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { listenFds } from './listen-fds.mjs';

const env = process.env;
const fds = listenFds();
const release = env.BRR_RELEASE ?? 'dev';
const greeting = env.GREETING ?? 'hello';
const buildInfo = JSON.parse(readFileSync(new URL('./build-info.json', import.meta.url), 'utf8'));
if (env.FAIL_ON_START === '1') {
  console.error('FAIL_ON_START=1: refusing to start');
  process.exit(3);
}
let datagrams = 0;
let draining = false;

function handle(req, res) {
  if (draining) res.setHeader('connection', 'close');
  if (req.url === '/healthz') {
    const ok = env.HEALTHY !== '0';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n');
  } else if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`udp_datagrams_total ${datagrams}\n`);
  } else {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ greeting, release, pid: process.pid, builtFrom: buildInfo.builtFrom }) + '\n');
  }
}

const servers = [];
function serveHttp(listenArg) {
  const s = http.createServer(handle);
  s.keepAliveTimeout = 2000;
  s.listen(listenArg);
  servers.push(s);
}
serveHttp(
  fds.http !== undefined ? { fd: fds.http } : { port: Number(env.PORT_HTTP ?? env.PORT ?? 18080), host: '127.0.0.1' },
);
// The supervisor checks health on a private socket of this process only (the shared port may hand
// the check to another release's process).
if (fds.health !== undefined) serveHttp({ fd: fds.health });

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, from) => {
  datagrams++;
  udp.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address);
});
udp.bind(
  fds.data !== undefined
    ? { fd: fds.data }
    : { port: Number(env.PORT_DATA ?? env.UDP_PORT ?? 12152), address: '127.0.0.1' },
);

console.log(`nf ${release} pid ${process.pid} serving (greeting=${greeting})`);

process.on('SIGTERM', () => {
  // Drain: keep answering for a moment with "connection: close" so keep-alive clients move to
  // the new release, stop reading datagrams (the shared socket keeps queued ones for the new
  // process), then exit.
  draining = true;
  console.log(`nf ${release} pid ${process.pid} draining`);
  udp.close();
  setTimeout(
    () => {
      let open = servers.length;
      for (const s of servers) {
        s.close(() => {
          if (--open === 0) process.exit(0);
        });
        s.closeIdleConnections();
      }
      setTimeout(() => process.exit(0), 2000).unref();
    },
    Number(env.DRAIN_MS ?? 300),
  );
});

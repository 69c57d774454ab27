// `npm run demo`: the whole lifecycle on the embedded default, in a temporary home.
// build → release → run → answer → config change (new release) → rollback → verify → history,
// then an unmodified Heroku-style app (Procfile, listens on $PORT) run behind the supervisor's proxy.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const brrBin = path.join(root, 'bin', 'brr.js');
const work = mkdtempSync(path.join(tmpdir(), 'brr-demo-'));
const home = path.join(work, 'home');
const repo = path.join(work, 'udp-counter');
const env = { ...process.env, BRR_HOME: home, BRR_APP: 'udp-counter', NO_COLOR: '1' };

// Run twice, the demo would find its ports held by the previous one, which keeps running on
// purpose. So the last demo's home is remembered, and its supervisor stopped first; a port
// still held (by something else) is swapped for a free one.
const lastHomeFile = path.join(tmpdir(), `brr-demo-last-home-${process.getuid?.() ?? 'user'}`);
if (existsSync(lastHomeFile)) {
  const last = readFileSync(lastHomeFile, 'utf8').trim();
  if (last && existsSync(last)) {
    process.stdout.write(`stopping the previous demo (home ${last})\n`);
    spawnSync(process.execPath, [brrBin, 'shutdown'], { env: { ...env, BRR_HOME: last }, stdio: 'ignore' });
  }
}
writeFileSync(lastHomeFile, `${home}\n`);
function tcpFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
function udpFree(port) {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}
async function portOr(preferred, free) {
  if (await free(preferred)) return preferred;
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if ((await tcpFree(p)) && (await udpFree(p))) return p;
  }
}
const HTTP = await portOr(18080, tcpFree);
const UDP = await portOr(12152, udpFree);
const WEB = await portOr(18090, tcpFree);

function step(title) {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? repo, env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(
      `${r.stdout ?? ''}${r.stderr ?? ''}\ncommand failed (exit ${r.status}): ${cmd} ${args.join(' ')}\n`,
    );
    process.exit(1);
  }
  return r;
}
function brr(...args) {
  return brrIn(repo, ...args);
}
function brrIn(cwd, ...args) {
  process.stdout.write(`$ brr ${args.join(' ')}\n`);
  const r = sh(process.execPath, [brrBin, ...args], { cwd });
  // Progress (stderr) first, then the result (stdout), as a person at a terminal sees them.
  if (r.stderr.trim()) process.stdout.write(r.stderr.trimEnd().replace(/^/gm, '  ') + '\n');
  process.stdout.write(r.stdout);
  return r.stdout;
}
// One connection per request, and done only once it is closed: this script blocks in spawnSync
// while brr runs, and a connection it left open would hold the old process for its `grace`.
function httpGet(url) {
  let body = '';
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.on('data', (d) => (body += d));
      })
      .on('close', () => resolve(body.trim()))
      .on('error', reject);
  });
}
function udpEcho(msg) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no UDP echo within 2s'));
    }, 2000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(String(m));
    });
    s.send(msg, UDP, '127.0.0.1');
  });
}
async function showAnswer() {
  process.stdout.write(`  http://127.0.0.1:${HTTP}/  → ${await httpGet(`http://127.0.0.1:${HTTP}/`)}\n`);
  process.stdout.write(`  udp 127.0.0.1:${UDP} 'ping' → ${await udpEcho('ping')}\n`);
}

step('a git repository with the sample network function');
cpSync(path.join(root, 'examples', 'udp-counter'), repo, { recursive: true });
writeFileSync(
  path.join(repo, 'brr.yaml'),
  readFileSync(path.join(repo, 'brr.yaml'), 'utf8')
    .replace('port: 18080', `port: ${HTTP}`)
    .replace('port: 12152', `port: ${UDP}`),
);
sh('git', ['init', '-q', '-b', 'main']);
sh('git', ['add', '-A']);
sh('git', [
  '-c',
  'user.name=demo',
  '-c',
  'user.email=demo@example.invalid',
  'commit',
  '-q',
  '-m',
  'udp-counter sample',
]);
process.stdout.write(`  ${repo}\n  home: ${home}\n`);

step('build: the commit becomes an OCI image (content-addressed)');
brr('build');
step('build again: a cache hit, same digest');
brr('build');
step('release: build + config = v1');
brr('config', 'set', 'GREETING=hello');
brr('release', '-m', 'first release');
step('run: the supervisor starts v1 and waits for it to be healthy');
brr('run');
await showAnswer();
step('config change: a new release, switched without downtime');
brr('config', 'set', 'GREETING=hola');
await showAnswer();
step('rollback: v3 copies v1 (build and config), GREETING is hello again');
brr('rollback');
await showAnswer();
step('the ledger: verify the hash chain, then the history');
brr('verify');
brr('releases');
brr('diff', 'v2', 'v3');
brr('ps');

step('an unmodified app: a Procfile and a server that listens on $PORT, as on Heroku');
const web = path.join(work, 'hello-web');
mkdirSync(web);
writeFileSync(
  path.join(web, 'server.js'),
  `// Knows nothing of brr: listens on $PORT, answers with its config.
require('http')
  .createServer((req, res) => res.end(\`\${process.env.GREETING ?? 'hi'} from pid \${process.pid}, listening on \${process.env.PORT}\\n\`))
  .listen(process.env.PORT);
`,
);
writeFileSync(path.join(web, 'Procfile'), 'web: node server.js\n');
sh('git', ['init', '-q', '-b', 'main'], { cwd: web });
sh('git', ['add', '-A'], { cwd: web });
sh('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-q', '-m', 'hello-web'], {
  cwd: web,
});
process.stdout.write(`  ${web}: Procfile "web: node server.js"\n`);
brrIn(web, 'config', 'set', `PORT=${WEB}`, 'GREETING=hello', '--app', 'hello-web');
brrIn(web, 'deploy', '--app', 'hello-web');
process.stdout.write(`  http://127.0.0.1:${WEB}/  → ${await httpGet(`http://127.0.0.1:${WEB}/`)}\n`);
step('change its config twice: each switch overlaps old and new on the public port (the proxy)');
brrIn(web, 'config', 'set', 'GREETING=bonjour', '--app', 'hello-web');
brrIn(web, 'config', 'set', 'GREETING=hallo', '--app', 'hello-web');
process.stdout.write(`  http://127.0.0.1:${WEB}/  → ${await httpGet(`http://127.0.0.1:${WEB}/`)}\n`);
process.stdout.write(`  (the process listens on a private port; brr config still shows PORT=${WEB}, what was set)\n`);
brrIn(web, 'config', '--app', 'hello-web');

step('it keeps running — look around, then stop it');
process.stdout.write(`  export BRR_HOME=${home} BRR_APP=udp-counter
  node ${path.relative(process.cwd(), brrBin) || brrBin} ps           # processes, restarts, uptime
  node ${path.relative(process.cwd(), brrBin) || brrBin} logs -f      # output of the network function
  node ${path.relative(process.cwd(), brrBin) || brrBin} status       # ledger vs what runs
  curl http://127.0.0.1:${HTTP}/metrics
  node ${path.relative(process.cwd(), brrBin) || brrBin} tokens create me --role admin   # then:
  node ${path.relative(process.cwd(), brrBin) || brrBin} serve        # the console: open http://127.0.0.1:7777, paste the token
  node ${path.relative(process.cwd(), brrBin) || brrBin} shutdown     # stop the supervisor and its processes
`);

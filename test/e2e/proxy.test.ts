/**
 * Apps that know nothing of brr, run unmodified behind the supervisor's proxy (`handoff: proxy`),
 * through the real CLI: a Heroku-style Node app (Procfile, listens on $PORT), a non-Node server
 * (python3 -m http.server on $PORT) and a TCP+UDP app on $PORT_HTTP/$PORT_DATA at scale 2. Each
 * goes through a config change, a new build and a rollback under TCP and UDP load with no failed
 * request and no lost datagram, every reply from the public port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { missingTool } from '../helpers/tools.js';
import { Sandbox } from './harness.js';
import { startProxyLoad } from './proxy-load.js';

const HEROKU_NODE_APP = `const http = require('http');
http
  .createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ release: process.env.BRR_RELEASE, greeting: process.env.GREETING, pid: process.pid }));
  })
  .listen(process.env.PORT, () => console.log('listening on ' + process.env.PORT));
`;

const TCP_UDP_APP = `import http from 'node:http';
import dgram from 'node:dgram';
const release = process.env.BRR_RELEASE;
http.createServer((req, res) => res.end(JSON.stringify({ release, pid: process.pid }))).listen(Number(process.env.PORT_HTTP), '127.0.0.1');
const udp = dgram.createSocket('udp4');
udp.on('message', (m, from) => udp.send(release + '|' + process.pid + '|' + m, from.port, from.address));
udp.bind(Number(process.env.PORT_DATA), '127.0.0.1');
`;

const jsonRelease = (body: string) => (JSON.parse(body) as { release: string }).release;

/** v1 running; then a config change (v2), a new build (v3) and a rollback (v4) under load. */
async function switchThreeWaysUnderLoad(
  sb: Sandbox,
  load: ReturnType<typeof startProxyLoad>,
  change: [file: string, content: string],
) {
  await new Promise((r) => setTimeout(r, 300));
  await sb.ok(['config', 'set', 'GREETING=two']); // v2
  sb.commit(change[0], change[1], 'new code');
  await sb.ok(['deploy']); // v3
  await sb.ok(['rollback']); // v4 = v2's build and config
  await new Promise((r) => setTimeout(r, 300));
  const r = await load();
  const status = await sb.brr(['status']);
  process.stderr.write(
    `proxy load: ${r.ok} requests, ${r.retriedOnReusedConnection} retried on a reused connection, ${r.udpSent} datagrams\n`,
  );
  return { r, status };
}

let sb: Sandbox | null = null;
afterEach(async () => {
  await sb?.cleanup();
  sb = null;
});

describe('unmodified apps behind the proxy, through the CLI, under load', () => {
  it('a Heroku-style Node app (Procfile, $PORT set with brr config set PORT=…)', { timeout: 240_000 }, async () => {
    sb = await Sandbox.withFiles(() => ({
      'server.js': HEROKU_NODE_APP,
      Procfile: 'web: node server.js\n',
      'notes.js': '',
    }));
    sb.env.BRR_APP = 'hk';
    await sb.ok(['config', 'set', `PORT=${sb.httpPort}`, 'GREETING=one']);
    await sb.ok(['deploy']); // v1
    const load = startProxyLoad({ httpPort: sb.httpPort, release: jsonRelease });
    const { r, status } = await switchThreeWaysUnderLoad(sb, load, ['notes.js', '// a code change\n']);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBeGreaterThan(100);
    expect([...r.releases].sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(status.code).toBe(0);
    // What the user set is what brr config shows; the process got its private port.
    expect((await sb.ok(['config'])).stdout).toContain(`PORT=${sb.httpPort}`);
    const body = JSON.parse((await sb.get('/')).body) as { release: string };
    expect(body.release).toBe('v4');
    // The report that started it all: the second `config set` after a deploy failed with EADDRINUSE.
    await sb.ok(['config', 'set', 'X=1']);
    await sb.ok(['config', 'set', 'X=2']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v6' });
  });

  it('a non-Node server bound to $PORT: python3 -m http.server', { timeout: 240_000 }, async (ctx) => {
    const missing = missingTool('python3');
    if (missing) return ctx.skip(missing);
    sb = await Sandbox.withFiles(() => ({
      'index.html': 'build one\n',
      Procfile: 'web: python3 -m http.server $PORT --bind 127.0.0.1\n',
    }));
    sb.env.BRR_APP = 'py';
    await sb.ok(['config', 'set', `PORT=${sb.httpPort}`]);
    await sb.ok(['deploy']);
    const load = startProxyLoad({ httpPort: sb.httpPort, release: (body) => body.trim() });
    const { r, status } = await switchThreeWaysUnderLoad(sb, load, ['index.html', 'build two\n']);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBeGreaterThan(100);
    expect([...r.releases].sort()).toEqual(['build one', 'build two']);
    expect(status.code).toBe(0);
  });

  it('a TCP+UDP app on $PORT_HTTP and $PORT_DATA at scale 2', { timeout: 240_000 }, async () => {
    sb = await Sandbox.withFiles(({ httpPort, udpPort }) => ({
      'app.mjs': TCP_UDP_APP,
      'brr.yaml': [
        'app: nf2',
        'processes:',
        '  nf:',
        '    command: node app.mjs',
        '    scale: 2',
        '    grace: 2s',
        '    ports:',
        `      - { name: http, port: ${httpPort}, protocol: tcp }`,
        `      - { name: data, port: ${udpPort}, protocol: udp }`,
        '',
      ].join('\n'),
    }));
    await sb.ok(['config', 'set', 'GREETING=one']);
    await sb.ok(['deploy']);
    const pids = (await sb.json<Array<{ pid: number }>>(['ps'])).map((p) => p.pid);
    expect(pids).toHaveLength(2);
    const load = startProxyLoad({ httpPort: sb.httpPort, udpPort: sb.udpPort, release: jsonRelease });
    const { r, status } = await switchThreeWaysUnderLoad(sb, load, ['notes.txt', 'a code change\n']);
    expect(r.failures).toEqual([]);
    expect(r.udpLost).toEqual([]);
    expect(r.udpForeign).toEqual([]);
    expect(r.ok).toBeGreaterThan(100);
    expect(r.udpSent).toBeGreaterThan(100);
    expect([...r.releases].sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect([...r.udpReleases].sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(status.code).toBe(0);
  });

  it('switch: stop-first runs an app with a hard-coded port; brr status is in sync', { timeout: 120_000 }, async () => {
    sb = await Sandbox.withFiles(({ httpPort }) => ({
      'app.js': `require('http').createServer((q, s) => s.end(process.env.BRR_RELEASE)).listen(${httpPort}, '127.0.0.1');\n`,
      'brr.yaml': ['app: fixed', 'processes:', '  web:', '    command: node app.js', '    switch: stop-first', ''].join(
        '\n',
      ),
    }));
    await sb.ok(['deploy']);
    expect((await sb.get('/')).body).toBe('v1');
    await sb.ok(['config', 'set', 'X=1']);
    expect((await sb.get('/')).body).toBe('v2');
    sb.commit('notes.txt', 'change\n');
    await sb.ok(['deploy']);
    expect((await sb.get('/')).body).toBe('v3');
    expect((await sb.brr(['status'])).code).toBe(0);
  });
});

#!/usr/bin/env node
// Kubernetes benchmark: render time of a release with several process types, and the time brr
// adds to a rollout beyond waiting for the cluster (against the FAKE API server of the tests,
// with instant availability, so nearly all that is measured is brr's own work).
// Run after `npm run build`:  node bench/render-bench.mjs [--renders 2000] [--rollouts 30]
// Prints a markdown section (`## Kubernetes`) on stdout; progress goes to stderr.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { KubeConfig } from '@kubernetes/client-node';
import { renderRelease } from '../dist/run/kubernetes/render.js';
import { yamlStream } from '../dist/run/kubernetes/yaml.js';
import { createKubeApi } from '../dist/run/kubernetes/client.js';
import { openContext } from '../dist/app/context.js';
import { changeConfig } from '../dist/app/change-config.js';
import { runOnKubernetes } from '../dist/app/kubernetes-run.js';
import { planRelease } from '../dist/release/plan.js';
import { numberFlag } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = numberFlag;
const RENDERS = flag('--renders', 2000);
const ROLLOUTS = flag('--rollouts', 30);
const log = (s) => process.stderr.write(`${s}\n`);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p90: q(0.9) };
};
const ms = (x) => `${x.toFixed(2)} ms`;

// A release like a small 5G core slice: 6 process types (HTTP, UDP, SCTP, one stateful), 30 config keys.
const digest = `sha256:${'d'.repeat(64)}`;
const proc = (i, extra = {}) => ({
  command: `node p${i}.mjs`,
  scale: 2,
  ports: [
    { name: 'http', port: 8080, protocol: 'tcp', address: '127.0.0.1' },
    { name: 'gtpu', port: 2152, protocol: 'udp', address: '127.0.0.1' },
    { name: 'ngap', port: 38412, protocol: 'sctp', address: '127.0.0.1' },
  ],
  health: {
    check: { kind: 'http', path: '/healthz', port: 'http' },
    timeoutMs: 30_000,
    intervalMs: 1_000,
    upForMs: 1_000,
  },
  graceMs: 10_000,
  restart: 'always',
  ...extra,
});
const processes = {
  amf: proc(1),
  smf: proc(2),
  upf: proc(3),
  nrf: proc(4),
  ausf: proc(5),
  udr: proc(6, { stateful: true }),
};
const config = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`KEY_${i}`, `value-${i}`]));
const input = {
  app: 'core',
  namespace: 'core',
  release: { id: 'v42', hash: 'f'.repeat(64), commit: '1'.repeat(40), digest, cause: 'deploy 1111111' },
  image: `registry.example.com/nf/core@${digest}`,
  processes,
  formation: Object.fromEntries(Object.keys(processes).map((t) => [t, 2])),
  config,
  secrets: { API_TOKEN: 'x'.repeat(32), DB_PASSWORD: 'y'.repeat(24) },
};

// 1. Render: objects, and objects + YAML (what `brr render` prints).
for (let i = 0; i < 200; i++) yamlStream(renderRelease(input).objects); // warm-up
const renderOnly = [];
const renderYaml = [];
let objectCount = 0;
for (let i = 0; i < RENDERS; i++) {
  let t = performance.now();
  const r = renderRelease(input);
  renderOnly.push(performance.now() - t);
  t = performance.now();
  yamlStream(r.objects);
  renderYaml.push(performance.now() - t + renderOnly[renderOnly.length - 1]);
  objectCount = r.objects.length;
}
log(`render: ${RENDERS} renders of ${objectCount} objects`);

// 2. Rollouts against the fake API server (TypeScript test code, transpiled on the fly).
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-k8s-bench-'));
for (const f of ['fake-apiserver.ts', 'fake-controllers.ts']) {
  const src = fs.readFileSync(path.join(here, '..', 'test', 'helpers', 'kubernetes', f), 'utf8');
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  fs.writeFileSync(path.join(tmp, f.replace(/\.ts$/, '.js')), js);
}
fs.writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}');
const { startFakeApiServer } = await import(pathToFileURL(path.join(tmp, 'fake-apiserver.js')).href);
const fake = await startFakeApiServer({ namespaces: ['core'] });
process.env.BRR_SECRETS_KEY = randomBytes(32).toString('base64');
const ctx = openContext({ home: path.join(tmp, 'home'), actor: 'bench@host' });
const kc = new KubeConfig();
kc.loadFromOptions(fake.kubeconfigOptions());
const api = createKubeApi(kc);
const deps = {
  buildOf: async () => ({ processes }),
  api: () => api,
  imageFor: (r, a, d) => `${r}/${a}@${d}`,
  pollMs: 1,
};
const target = {
  target: 'kubernetes',
  context: 'fake',
  namespace: 'core',
  registry: 'registry.example.com/nf',
  kubeconfig: null,
};
await changeConfig(ctx, 'core', { set: Object.entries(config).map(([k, v]) => `${k}=${v}`) });
const rows = { total: [], render: [], apply: [], wait: [], cleanup: [], ledger: [], brr: [] };
let requests = 0;
try {
  let rel = await ctx.ledger.appendRelease('core', (latest, staged) =>
    planRelease({
      latest,
      staged,
      build: { digest, commit: '1'.repeat(40) },
      formation: input.formation,
      actor: 'bench@host',
      now: new Date(),
    }),
  );
  for (let i = 0; i < ROLLOUTS + 3; i++) {
    const before = fake.requests.length;
    const t = performance.now();
    const r = await runOnKubernetes(ctx, rel, target, () => {}, { deps, timeoutMs: 60_000 });
    const total = performance.now() - t;
    if (i >= 3) {
      // The first rollouts warm up the client (discovery cache) and the JIT.
      const { renderMs, applyMs, waitMs, cleanupMs } = r.timings;
      rows.total.push(total);
      rows.render.push(renderMs);
      rows.apply.push(applyMs);
      rows.wait.push(waitMs);
      rows.cleanup.push(cleanupMs);
      rows.ledger.push(total - renderMs - applyMs - waitMs - cleanupMs);
      rows.brr.push(total - waitMs);
      requests += fake.requests.length - before;
    }
    rel = (await changeConfig(ctx, 'core', { set: [`KEY_0=v${i}`] })).release;
  }
} finally {
  await ctx.close();
  await fake.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
log(`rollouts: ${ROLLOUTS} measured`);

const line = (name, xs, what) => `| ${name} | ${ms(stats(xs).median)} | ${ms(stats(xs).p90)} | ${what} |`;
process.stdout.write(`## Kubernetes

\`node bench/render-bench.mjs\` (after \`npm run build\`). A release of ${Object.keys(processes).length} process types
(HTTP, UDP and SCTP ports, one StatefulSet), ${Object.keys(config).length} config keys and 2 secrets:
${objectCount} objects.

| what | median | p90 | notes |
|---|---|---|---|
${line('render (objects)', renderOnly, `${RENDERS} renders, pure function`)}
${line('render + YAML', renderYaml, 'what `brr render` writes')}

A rollout against the FAKE API server on 127.0.0.1 with instant availability (so "wait" is one
status read per workload), ${ROLLOUTS} rollouts of config-change releases, about
${Math.round(requests / ROLLOUTS)} HTTP requests each (apply, status reads, clean-up lists and deletes):

| step | median | p90 |
|---|---|---|
| render (incl. opening secrets) | ${ms(stats(rows.render).median)} | ${ms(stats(rows.render).p90)} |
| server-side apply, ${objectCount} objects | ${ms(stats(rows.apply).median)} | ${ms(stats(rows.apply).p90)} |
| wait for the rollout (the cluster's part) | ${ms(stats(rows.wait).median)} | ${ms(stats(rows.wait).p90)} |
| clean-up (lists, prune, delete old config) | ${ms(stats(rows.cleanup).median)} | ${ms(stats(rows.cleanup).p90)} |
| ledger (read history, 2 event appends) | ${ms(stats(rows.ledger).median)} | ${ms(stats(rows.ledger).p90)} |
| **brr's own time (total − wait)** | **${ms(stats(rows.brr).median)}** | **${ms(stats(rows.brr).p90)}** |
| total | ${ms(stats(rows.total).median)} | ${ms(stats(rows.total).p90)} |

On a real cluster, apply and clean-up also pay the API server's latency per request, and the
wait is dominated by image pulls and readiness probes (seconds), so brr's share is this table's
"brr's own time" plus about ${Math.round(requests / ROLLOUTS)} round trips.
`);

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { homePaths } from '../../src/core/home.js';
import { registerKubernetesCommands } from '../../src/cli/commands/kubernetes.js';
import { registerReleaseCommands } from '../../src/cli/commands/release.js';
import { registerRunCommands } from '../../src/cli/commands/run.js';
import { registerConfigCommands } from '../../src/cli/commands/config.js';
import { registerCheckCommands } from '../../src/cli/commands/check.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { findBuild } from '../../src/store/builds.js';
import { cleanupTempDirs, commitAll, repoWith, tempDir } from '../build/git-fixture.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/kubernetes/fake-apiserver.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

const BRR_YAML = `app: upf
processes:
  nf:
    command: node nf.mjs
    scale: 2
    ports:
      - { name: http, port: 8080 }
      - { name: ngap, port: 38412, protocol: sctp }
    health: { http: /healthz, port: http }
    resources: { cpu: 500m, memory: 256Mi }
`;

/**
 * The commands in-process (the real command definitions, a real brr home, a real build in the
 * OCI store, and the FAKE API server reached through a kubeconfig file), so `brr run` goes
 * through run-release's dispatch exactly as the CLI does.
 */
async function brr(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command('brr').exitOverride();
  registerReleaseCommands(program);
  registerConfigCommands(program);
  registerRunCommands(program);
  registerKubernetesCommands(program);
  registerCheckCommands(program);
  program.commands.forEach((c) => c.exitOverride());
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    await program.parseAsync(['node', 'brr', ...args]);
  } catch (e) {
    if (e && typeof e === 'object') Object.assign(e, { stdout });
    throw e;
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { stdout, stderr };
}

const skip = missingTool('docker-registry');

describe.skipIf(!!skip)(
  'brr apps / render / run / status for a Kubernetes app (CLI in-process, FAKE API server, real registry)',
  () => {
    let fake: FakeApiServer;
    let reg: TestRegistry;
    let repo: string;
    let home: string;
    let kubeconfig: string;
    let digest: string;
    const SECRET = 'do-not-print-me';

    beforeAll(async () => {
      fake = await startFakeApiServer({ namespaces: ['upf'] });
      reg = await startRegistry();
      home = tempDir('home');
      // A safety net: a command that lost its --home must not write to the user's real home.
      process.env.BRR_HOME = tempDir('stray-home');
      process.env.BRR_SECRETS_KEY = randomBytes(32).toString('base64');
      kubeconfig = path.join(tempDir('kube'), 'config');
      writeFileSync(kubeconfig, fake.kubeconfigYaml());
      repo = repoWith({ 'brr.yaml': BRR_YAML, 'nf.mjs': 'console.log(1)\n' }).repo;
      digest = (await buildImage({ paths: homePaths(home), repo })).digest;
    });
    afterAll(async () => {
      delete process.env.BRR_HOME;
      delete process.env.BRR_SECRETS_KEY;
      await fake.close();
      await reg?.stop();
      cleanupTempDirs();
    });

    it('sets and lists the target', async () => {
      const set = await brr(
        'apps',
        'set',
        'upf',
        '--target',
        'kubernetes',
        '--context',
        'fake',
        '--namespace',
        'upf',
        '--registry',
        `${reg.host}/nf`,
        '--kubeconfig',
        kubeconfig,
        '--home',
        home,
      );
      expect(set.stdout).toContain(
        `upf runs on kubernetes context=fake namespace=upf registry=${reg.host}/nf kubeconfig=${kubeconfig}`,
      );
      const list = await brr('apps', '--home', home, '--json');
      expect(JSON.parse(list.stdout)).toEqual([
        {
          app: 'upf',
          current: null,
          target: { target: 'kubernetes', context: 'fake', namespace: 'upf', registry: `${reg.host}/nf`, kubeconfig },
        },
      ]);
    });

    it('renders the newest release to stdout and to a directory; secrets only with --include-secrets', async () => {
      await brr('config', 'set', `TOKEN=${SECRET}`, '--secret', '--app', 'upf', '--home', home);
      await brr('config', 'set', 'LOG_LEVEL=info', '--app', 'upf', '--home', home);
      await brr('release', '--app', 'upf', '--home', home);
      // Not pushed yet: render cannot know the image, and says which push to run.
      await expect(brr('render', '--app', 'upf', '--home', home)).rejects.toMatchObject({
        code: 'kubernetes_image_not_pushed',
        exitCode: 2,
        hint: expect.stringContaining(`brr push ${digest.slice(7, 19)} --to ${reg.host}/nf/upf`),
      });
      // Pushed to the app's registry itself: the render names exactly that reference.
      await pushBuild({ paths: homePaths(home), build: digest, to: `${reg.host}/nf` });
      const stream = await brr('render', '--app', 'upf', '--home', home);
      expect(stream.stdout).not.toContain(Buffer.from(SECRET).toString('base64'));
      const docs = parseAllDocuments(stream.stdout).map((d) =>
        (d as { toJS(): { kind: string; metadata: { name: string } } }).toJS(),
      );
      expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
        'ConfigMap/upf-v1-config',
        'Secret/upf-v1-secret',
        'Service/upf-nf',
        'PodDisruptionBudget/upf-nf',
        'Deployment/upf-nf',
      ]);
      expect(stream.stdout).toContain(`image: ${reg.host}/nf@${digest}`);
      const dir = tempDir('render');
      const files = await brr('render', 'v1', '--out', dir, '--include-secrets', '--app', 'upf', '--home', home);
      expect(readdirSync(dir).sort()).toEqual([
        '01-configmap-upf-v1-config.yaml',
        '02-secret-upf-v1-secret.yaml',
        '03-service-upf-nf.yaml',
        '04-poddisruptionbudget-upf-nf.yaml',
        '05-deployment-upf-nf.yaml',
      ]);
      expect(files.stdout.trim().split('\n')).toHaveLength(5);
      const secretFile = path.join(dir, '02-secret-upf-v1-secret.yaml');
      expect(readFileSync(secretFile, 'utf8')).toContain(Buffer.from(SECRET).toString('base64'));
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    });

    it('runs the release on the cluster through `brr run`, then `brr status` compares it with the pods', async () => {
      const run = await brr('run', '--app', 'upf', '--home', home);
      expect(run.stdout).toContain('upf v1 is running');
      expect(run.stderr).toContain('applying 5 objects of v1 to namespace upf (context fake)');
      expect(run.stderr + run.stdout).not.toContain(SECRET);
      expect(fake.get('Deployment', 'upf-nf', 'upf')!.spec.template.spec.containers[0].ports[1]).toEqual({
        containerPort: 38412,
        name: 'ngap',
        protocol: 'SCTP',
      });
      const status = await brr('status', '--app', 'upf', '--home', home, '--json');
      expect(JSON.parse(status.stdout)).toEqual([
        { app: 'upf', ledger: 'v1', running: 'v1', inSync: true, problem: null },
      ]);
      // brr rollback through the CLI: v2 changes config, the rollback to v1 brings the old config back on the cluster.
      await brr('config', 'set', 'LOG_LEVEL=debug', '--app', 'upf', '--home', home);
      await brr('run', '--app', 'upf', '--home', home);
      expect(fake.get('ConfigMap', 'upf-v2-config', 'upf')!.data).toEqual({ LOG_LEVEL: 'debug' });
      const back = await brr('rollback', 'v1', '--app', 'upf', '--home', home);
      expect(back.stdout).toContain('upf v3 is running: rollback to v1');
      expect(fake.get('ConfigMap', 'upf-v3-config', 'upf')!.data).toEqual({ LOG_LEVEL: 'info' });
      const env = fake.get('Deployment', 'upf-nf', 'upf')!.spec.template.spec.containers[0].env;
      expect(env.find((e: { name: string }) => e.name === 'LOG_LEVEL').valueFrom.configMapKeyRef.name).toBe(
        'upf-v3-config',
      );
      // The cluster changed behind brr's back: status reports drift and fails.
      for (const p of fake.list('Pod', 'upf')) p.metadata.labels['app.kubernetes.io/version'] = 'v0';
      await expect(brr('status', '--app', 'upf', '--home', home)).rejects.toMatchObject({ code: 'status_drift' });
    });

    it("brr run pushes a build the app's registry lacks, records it, and runs that reference", async () => {
      writeFileSync(path.join(repo, 'nf.mjs'), 'console.log(2)\n');
      commitAll(repo, 'v2 of the code');
      const next = (await buildImage({ paths: homePaths(home), repo })).digest;
      expect(next).not.toBe(digest);
      await brr('release', '--build', next, '--app', 'upf', '--home', home);
      const run = await brr('run', '--app', 'upf', '--home', home);
      expect(run.stderr).toContain(`pushing ${next} to ${reg.host}/nf/upf (the app's registry lacks it)`);
      expect((await findBuild(homePaths(home), next)).pushed).toEqual([`${reg.host}/nf/upf@${next}`]);
      const res = await fetch(`http://${reg.host}/v2/nf/upf/manifests/${next}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(res.status).toBe(200);
      expect(fake.get('Deployment', 'upf-nf', 'upf')!.spec.template.spec.containers[0].image).toBe(
        `${reg.host}/nf/upf@${next}`,
      );
    });

    it('brr check reports every CNTi check and exits 1 on an essential failure; a local-target app is checked too', async () => {
      // This build has no init (no base, no build.image.init): specialized_init_system fails.
      const e = (await brr('check', '--app', 'upf', '--json', '--home', home).catch((x: unknown) => x)) as {
        code: string;
        exitCode: number;
        stdout: string;
      };
      expect(e).toMatchObject({ code: 'check_failed', exitCode: 1 });
      const report = JSON.parse(e.stdout) as { essentialFailed: number; results: Array<Record<string, string>> };
      const failed = report.results.filter((r) => r.result === 'fail');
      expect([...new Set(failed.map((r) => r.check))]).toEqual(['specialized_init_system']);
      expect(failed[0]).toMatchObject({
        category: 'essential',
        object: 'Deployment/upf-nf container nf',
        fix: expect.stringContaining('build.image.init'),
      });
      await brr('release', '--build', digest, '--app', 'edge', '--home', home);
      const local = (await brr('check', '--app', 'edge', '--json', '--home', home).catch((x: unknown) => x)) as {
        stdout: string;
      };
      const rows = (JSON.parse(local.stdout) as { results: Array<Record<string, string>> }).results;
      expect(rows.find((r) => r.check === 'latest_tag')!.object).toBe('Deployment/edge-nf container nf');
    });
  },
);

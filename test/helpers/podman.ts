import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { missingTool } from './tools.js';

/**
 * podman for tests, configured entirely through files in a temp dir so neither the tests nor brr
 * touch the machine's container config: runc as the runtime, cgroupfs (no systemd in CI
 * containers), modest ulimits (the defaults exceed what a container in a container may set),
 * host networking, vfs storage (no overlay mounts needed), and the test registries marked
 * insecure (plain HTTP on 127.0.0.1). docs/registries.md documents the same settings.
 */

export interface TestPodman {
  /** CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF for child processes. */
  env: Record<string, string>;
  run(args: string[], timeoutMs?: number): { code: number; stdout: string; stderr: string };
  cleanup(): void;
}

export function containersConf(dir: string): string {
  return [
    '[containers]',
    'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
    'netns = "host"',
    '',
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${path.join(dir, 'events.log')}"`,
    // Not the shared /run/libpod: parallel test runs must not share podman's locks and state.
    `tmp_dir = "${path.join(dir, 'tmp')}"`,
    '',
  ].join('\n');
}

export function startPodman(insecureRegistries: string[] = []): TestPodman {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-podman-'));
  const env = {
    CONTAINERS_CONF: path.join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: path.join(dir, 'registries.conf'),
  };
  writeFileSync(env.CONTAINERS_CONF, containersConf(dir));
  writeFileSync(
    env.CONTAINERS_STORAGE_CONF,
    `[storage]\ndriver = "vfs"\nrunroot = "${path.join(dir, 'run')}"\ngraphroot = "${path.join(dir, 'graph')}"\n`,
  );
  writeFileSync(
    env.CONTAINERS_REGISTRIES_CONF,
    insecureRegistries.map((r) => `[[registry]]\nlocation = "${r}"\ninsecure = true\n`).join('\n'),
  );
  const run = (args: string[], timeoutMs = 120_000) => {
    const r = spawnSync('podman', args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  return {
    env,
    run,
    cleanup() {
      run(['rm', '--all', '--force'], 30_000);
      run(['rmi', '--all', '--force'], 30_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Why podman cannot run containers here (null when it can): not installed (a visible skip, or a
 * failure under BRR_REQUIRE_TOOLS=1), or installed but unable to start a container.
 */
export function podmanUnavailable(): string | null {
  const missing = missingTool('podman') ?? missingTool('runc');
  if (missing) return missing;
  const p = startPodman();
  try {
    const r = p.run(['info', '--format', '{{.Host.OCIRuntime.Name}}'], 60_000);
    if (r.code === 0) return null;
    const reason = `podman cannot run here: ${r.stderr.trim().split('\n').pop()}`;
    if (process.env.BRR_REQUIRE_TOOLS === '1') throw new Error(reason);
    process.stderr.write(`SKIP: ${reason}\n`);
    return reason;
  } finally {
    p.cleanup();
  }
}

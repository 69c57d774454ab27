/**
 * Runs the supervisor as a process of its own (needed to SIGKILL it): brr's sources are
 * compiled into a temp directory, and a small launcher script wires runSupervisor to a
 * file-backed test double of the ledger, so the double survives the supervisor being killed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SupervisorOptions } from '../../../../src/run/local/supervisor.js';
import type { RunSpec } from '../../../../src/run/types.js';
import { REPO, type RecordedEvent } from './fixture.js';

/** Compiles src/ (tsconfig.build.json) into a fresh temp directory; others' type errors do not stop the emit. */
export function compileBrr(): string {
  const out = mkdtempSync(path.join(os.tmpdir(), 'brr-dist-'));
  const r = spawnSync(
    process.execPath,
    [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', out],
    { encoding: 'utf8' },
  );
  if (!existsSync(path.join(out, 'run/local/supervisor.js')))
    throw new Error(`tsc did not emit the supervisor:\n${r.stdout}\n${r.stderr}`);
  return out;
}

const LAUNCHER = `// Test-only launcher: runSupervisor with a file-backed ledger double (not a ledger).
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
const [dist, homeRoot, ledgerFile, optsJson] = process.argv.slice(2);
const { runSupervisor } = await import(dist + '/run/local/supervisor.js');
const { homePaths } = await import(dist + '/core/home.js');
const read = () => JSON.parse(readFileSync(ledgerFile, 'utf8'));
const deps = {
  home: homePaths(homeRoot),
  clock: { now: () => new Date() },
  desired: async () => { const l = read(); return Object.entries(l.current).map(([app, v]) => l.releases[app + '/' + v]); },
  prepare: async (app, v) => { const s = read().releases[app + '/' + v]; if (!s) throw new Error('no release ' + v); return s; },
  record: async (app, type, release, detail) => {
    appendFileSync(ledgerFile + '.events', JSON.stringify({ app, type, release, detail }) + '\\n');
    if (type === 'activated') {
      const l = read();
      l.current[app] = release;
      writeFileSync(ledgerFile + '.tmp', JSON.stringify(l));
      renameSync(ledgerFile + '.tmp', ledgerFile);
    }
  },
  log: (line) => process.stderr.write(new Date().toISOString() + ' ' + line + '\\n'),
};
try {
  await runSupervisor(deps, JSON.parse(optsJson));
  process.exit(0);
} catch (e) {
  process.stderr.write('supervisor failed: ' + (e.code ?? '') + ' ' + e.message + '\\n');
  process.exit(1);
}
`;

/** Test double of the ledger kept in a JSON file the launched supervisor reads and updates. */
export class FileLedgerDouble {
  constructor(readonly file: string) {}

  write(releases: RunSpec[], current: Record<string, string>): void {
    writeFileSync(
      this.file,
      JSON.stringify({ releases: Object.fromEntries(releases.map((r) => [`${r.app}/${r.release}`, r])), current }),
    );
  }

  current(app: string): string | undefined {
    return (JSON.parse(readFileSync(this.file, 'utf8')) as { current: Record<string, string> }).current[app];
  }

  events(): RecordedEvent[] {
    if (!existsSync(`${this.file}.events`)) return [];
    return readFileSync(`${this.file}.events`, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RecordedEvent);
  }
}

/** Writes the launcher into `dir`; returns the argv that starts a supervisor for `homeRoot`. */
export function launcherArgv(
  dir: string,
  dist: string,
  homeRoot: string,
  ledger: FileLedgerDouble,
  opts: SupervisorOptions = {},
): string[] {
  const file = path.join(dir, 'launch-supervisor.mjs');
  writeFileSync(file, LAUNCHER);
  return [process.execPath, file, dist, homeRoot, ledger.file, JSON.stringify(opts)];
}

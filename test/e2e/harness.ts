import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BRR = path.join(ROOT, 'bin', 'brr.js');

/**
 * A fixed secrets key for every CLI run: `config set --secret` refuses to store a secret
 * without one. Tests that need no key pass `BRR_SECRETS_KEY: ''`.
 */
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A free TCP+UDP port on 127.0.0.1 (bound and released; good enough for tests on one machine). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.on('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'test',
      GIT_AUTHOR_EMAIL: 'test@example.invalid',
      GIT_COMMITTER_NAME: 'test',
      GIT_COMMITTER_EMAIL: 'test@example.invalid',
      GIT_AUTHOR_DATE: '2026-01-02T03:04:05Z',
      GIT_COMMITTER_DATE: '2026-01-02T03:04:05Z',
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A temp brr home plus a git repo holding the sample network function on free ports. */
export class Sandbox {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'brr-e2e-'));
  readonly home = path.join(this.dir, 'home');
  readonly repo = path.join(this.dir, 'repo');
  httpPort = 0;
  udpPort = 0;
  /** Environment for every CLI run (e.g. BRR_APP for an app without brr.yaml). */
  env: Record<string, string> = {};

  static async create(opts: { app?: string } = {}): Promise<Sandbox> {
    const s = new Sandbox();
    s.httpPort = await freePort();
    s.udpPort = await freePort();
    cpSync(path.join(ROOT, 'examples', 'udp-counter'), s.repo, { recursive: true });
    const yml = readFileSync(path.join(s.repo, 'brr.yaml'), 'utf8')
      .replace('port: 18080', `port: ${s.httpPort}`)
      .replace('port: 12152', `port: ${s.udpPort}`)
      .replace('app: udp-counter', `app: ${opts.app ?? 'udp-counter'}`);
    writeFileSync(path.join(s.repo, 'brr.yaml'), yml);
    git(s.repo, 'init', '-q', '-b', 'main');
    git(s.repo, 'add', '-A');
    git(s.repo, 'commit', '-q', '-m', 'sample');
    return s;
  }

  /**
   * A temp brr home plus a git repo holding `files` (given the free ports), e.g. an unmodified
   * app with a Procfile. Paths may contain directories.
   */
  static async withFiles(
    files: (ports: { httpPort: number; udpPort: number }) => Record<string, string>,
  ): Promise<Sandbox> {
    const s = new Sandbox();
    s.httpPort = await freePort();
    s.udpPort = await freePort();
    for (const [name, text] of Object.entries(files({ httpPort: s.httpPort, udpPort: s.udpPort }))) {
      mkdirSync(path.dirname(path.join(s.repo, name)), { recursive: true });
      writeFileSync(path.join(s.repo, name), text);
    }
    git(s.repo, 'init', '-q', '-b', 'main');
    git(s.repo, 'add', '-A');
    git(s.repo, 'commit', '-q', '-m', 'app');
    return s;
  }

  /** Runs the real CLI. */
  brr(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BRR, ...args], {
        cwd: this.repo,
        env: {
          ...process.env,
          BRR_HOME: this.home,
          NO_COLOR: '1',
          BRR_ACTOR: 'tester@e2e',
          BRR_SECRETS_KEY: TEST_SECRETS_KEY,
          ...this.env,
          ...opts.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  /** Runs the CLI and expects exit 0; parses --json output when asked. */
  async ok(args: string[], env?: Record<string, string>): Promise<CliResult> {
    const r = await this.brr(args, { env });
    if (r.code !== 0) throw new Error(`brr ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  async json<T = Record<string, unknown>>(args: string[]): Promise<T> {
    const r = await this.ok([...args, '--json']);
    return JSON.parse(r.stdout) as T;
  }

  commit(file: string, content: string, message = 'change'): string {
    writeFileSync(path.join(this.repo, file), content);
    git(this.repo, 'add', '-A');
    git(this.repo, 'commit', '-q', '-m', message);
    return git(this.repo, 'rev-parse', 'HEAD');
  }

  async get(pathname = '/'): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${pathname}`);
    return { status: res.status, body: await res.text() };
  }

  udp(msg: string, timeoutMs = 2000): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => {
        s.close();
        reject(new Error(`no UDP echo for ${msg}`));
      }, timeoutMs);
      s.on('message', (m) => {
        clearTimeout(t);
        s.close();
        resolve(String(m));
      });
      s.send(msg, this.udpPort, '127.0.0.1');
    });
  }

  /** Stops the supervisor (if any) and removes everything. */
  async cleanup(): Promise<void> {
    await this.brr(['shutdown']);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Live processes whose working directory or command line lies in this home: the supervisor and its children. */
export function pidsWithHome(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // zombies hold nothing
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cwd.startsWith(home) || cmd.includes(home)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

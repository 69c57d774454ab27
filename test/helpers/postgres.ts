import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL 15 server per test file: its own data directory in a temp dir, password
 * (scram-sha-256) authentication over TCP on a loopback port, nothing shared with any system
 * cluster. initdb and pg_ctl refuse to run as root, so as root they run as user `postgres`.
 */

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/bin'];

export interface PgServer {
  /** Connection URL (with password) of a database on this server. */
  url(database: string): string;
  password: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The directory holding initdb, pg_ctl and postgres, or null. */
export function findPostgresBin(): string | null {
  return BIN_DIRS.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => fs.existsSync(path.join(d, b)))) ?? null;
}

/**
 * Null when PostgreSQL can run here; else the reason to skip, printed. With BRR_REQUIRE_TOOLS=1
 * a missing server is a failure instead (CI must run everything), as in tools.ts.
 */
export function missingPostgres(): string | null {
  if (findPostgresBin()) return null;
  if (process.env.BRR_REQUIRE_TOOLS === '1')
    throw new Error(
      `PostgreSQL 15 is required (BRR_REQUIRE_TOOLS=1) but not found in ${BIN_DIRS.join(' or ')}: apt-get install -y postgresql-15`,
    );
  const reason = `PostgreSQL server binaries not found in ${BIN_DIRS.join(' or ')} (apt-get install -y postgresql-15); skipping`;
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a server binary, as `postgres` when we are root; throws with its output on failure. */
function runPg(bin: string, args: string[]): void {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
}

export interface StartOptions {
  /** fsync off makes test databases fast; the bench keeps it on to compare honestly. Default false. */
  fsync?: boolean;
}

export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL binaries not found; call missingPostgres() first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-pg-'));
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  const pwfile = path.join(dir, 'pw');
  const password = randomBytes(12).toString('hex');
  fs.mkdirSync(sock);
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot()) {
    const id = (flag: string): number =>
      Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    for (const p of [dir, sock, pwfile]) fs.chownSync(p, id('-u'), id('-g'));
  }
  let port = 0;
  try {
    runPg(path.join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'brr',
      '-A',
      'scram-sha-256',
      `--pwfile=${pwfile}`,
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    fs.rmSync(pwfile);
    // A port picked free can be taken before the server binds it; try a few.
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const o = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=${opts.fsync ? 'on' : 'off'} -c max_connections=100`;
      try {
        runPg(path.join(bin, 'pg_ctl'), [
          '-D',
          data,
          '-o',
          o,
          '-l',
          path.join(dir, 'server.log'),
          '-w',
          '-t',
          '60',
          'start',
        ]);
        break;
      } catch (e) {
        if (attempt >= 3)
          throw new Error(`${(e as Error).message}\n${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`);
      }
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const url = (database: string): string => `postgres://brr:${password}@127.0.0.1:${port}/${database}`;
  return {
    url,
    password,
    port,
    async createDatabase(name: string): Promise<string> {
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async stop(): Promise<void> {
      try {
        runPg(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

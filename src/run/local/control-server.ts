/**
 * The supervisor's end of the control socket. It authenticates every request against the
 * token (compared in constant time), dispatches it, streams progress and answers. It knows
 * nothing of processes: the supervisor passes one `handle` function.
 */
import { timingSafeEqual } from 'node:crypto';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import { BrrError, invalidInput } from '../../core/errors.js';
import { withSocketAddress } from './socket-address.js';
import { CONTROL_OPS, LineSplitter, toWireError, type ControlOp, type ControlResponse } from './control-protocol.js';

export type ControlHandler = (
  op: ControlOp,
  args: Record<string, unknown>,
  progress: (message: string) => void,
) => Promise<unknown>;

export interface ControlServer {
  /** Stops accepting, ends open connections after what was written to them is flushed. */
  close(): Promise<void>;
}

export async function startControlServer(
  socketPath: string,
  token: string,
  handle: ControlHandler,
  log: (line: string) => void,
): Promise<ControlServer> {
  const expected = Buffer.from(token);
  const conns = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => {}); // a client that went away mid-answer is not the supervisor's problem
    const send = (r: ControlResponse): void => {
      if (conn.writable) conn.write(JSON.stringify(r) + '\n');
    };
    const refuse = (id: ControlResponse['id'], code: string, message: string, hint: string, exitCode = 2): void => {
      send({ id, ok: false, error: { code, message, hint, exitCode } });
    };
    let closed = false;
    const lines = new LineSplitter(
      (line) => {
        if (closed) return;
        let req: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(line);
          if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          req = parsed as Record<string, unknown>;
        } catch {
          return refuse(null, 'bad_request', 'request is not a JSON object', 'send one JSON object per line');
        }
        const id = typeof req.id === 'number' || typeof req.id === 'string' ? req.id : null;
        const given = Buffer.from(typeof req.token === 'string' ? req.token : '');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          refuse(
            id,
            'unauthorized',
            'missing or wrong token',
            "read the token from the supervisor's run directory (<home>/run/token) as the user that started it",
            1,
          );
          // Nothing more from a client that does not know the token.
          closed = true;
          conn.end();
          return;
        }
        const op = req.op as ControlOp;
        if (!CONTROL_OPS.includes(op))
          return refuse(id, 'bad_request', `unknown op ${JSON.stringify(req.op)}`, `ops: ${CONTROL_OPS.join(', ')}`);
        const args: Record<string, unknown> = { ...req };
        delete args.token;
        delete args.id;
        delete args.op;
        handle(op, args, (progress) => send({ id, progress })).then(
          (result) => send({ id, ok: true, result: result ?? null }),
          (e: unknown) => send({ id, ok: false, error: toWireError(e) }),
        );
      },
      () => {
        refuse(null, 'bad_request', 'request line too long', 'send one JSON object per line');
        closed = true;
        conn.end();
      },
    );
    conn.on('data', (d) => lines.push(d));
  });
  // A supervisor that cannot serve its socket must exit saying why, not run on unreachable.
  await withSocketAddress(
    socketPath,
    (address) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address, () => {
          server.off('error', reject);
          resolve();
        });
      }),
  ).catch((e: unknown) => {
    server.close();
    if (e instanceof BrrError) throw e;
    throw new BrrError(
      'control_socket_unavailable',
      `the supervisor cannot listen on its control socket ${socketPath} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      { hint: 'check that the brr home is on a local filesystem and writable by you', cause: e },
    );
  });
  // The run directory is 0700 already; the socket is tightened too in case someone loosens it.
  chmodSync(socketPath, 0o600);
  server.on('error', (e) => log(`control socket error: ${e.message}`));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) {
          c.end();
          setTimeout(() => c.destroy(), 1000).unref();
        }
      }),
  };
}

/** Reads a required string argument of a request. */
export function stringArg(args: Record<string, unknown>, name: string): string {
  const v = args[name];
  if (typeof v !== 'string' || v === '')
    throw invalidInput('bad_request', `argument ${name} must be a non-empty string`, `send { "${name}": "…" }`);
  return v;
}

/** Reads an optional string argument of a request. */
export function optionalStringArg(args: Record<string, unknown>, name: string): string | undefined {
  return args[name] === undefined || args[name] === null ? undefined : stringArg(args, name);
}

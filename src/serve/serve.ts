/**
 * `brr serve` as a use-case: check where it may listen (loopback, or TLS, or an explicit
 * --insecure-http), open the one Context the server shares (same home, ledger and settings as
 * the CLI), start the server, say its URL, and run until the signal aborts; then stop taking
 * requests, end streams and close the ledger.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { BrrError, invalidInput } from '../core/errors.js';
import type { Settings } from '../app/settings.js';
import { createConsoleServer } from './server.js';

export interface ServeOptions {
  settings: Settings;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp: boolean;
  metricsPublic: boolean;
  signal: AbortSignal;
  onListening: (url: string) => void;
  log: (line: string) => void;
}

/** HOST:PORT (IPv6 in brackets) → host and port; `listen_invalid` otherwise. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw invalidInput(
      'listen_invalid',
      `--listen ${JSON.stringify(text)} is not HOST:PORT`,
      'e.g. --listen 127.0.0.1:7777',
    );
  return { host: (m[1] ?? m[2])!, port };
}

/** Whether the host is a loopback address (or localhost). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** The listen plan: refuses a non-loopback address without TLS or --insecure-http. Pure. */
export function planListen(opts: Pick<ServeOptions, 'listen' | 'tlsCert' | 'tlsKey' | 'insecureHttp'>): {
  host: string;
  port: number;
  tls: boolean;
} {
  const { host, port } = parseListen(opts.listen);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined))
    throw invalidInput('tls_invalid', '--tls-cert and --tls-key go together', 'give both, or neither');
  const tls = opts.tlsCert !== undefined;
  if (!tls && !opts.insecureHttp && !isLoopback(host))
    throw invalidInput(
      'listen_insecure',
      `refusing to serve plain HTTP on ${host}, which is not a loopback address: tokens and session cookies would cross the network in clear`,
      'pass --tls-cert FILE --tls-key FILE to serve HTTPS, or --insecure-http if a TLS proxy in front of it is on the same host',
    );
  return { host, port, tls };
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw invalidInput(
      'tls_invalid',
      `cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      'check the path and that this user may read it',
    );
  }
}

export async function serveConsole(opts: ServeOptions): Promise<void> {
  const plan = planListen(opts);
  const tls = plan.tls
    ? { cert: readPem('--tls-cert', opts.tlsCert!), key: readPem('--tls-key', opts.tlsKey!) }
    : undefined;
  const { openContext } = await import('../app/context.js');
  const ctx = openContext({ settings: opts.settings });
  try {
    let console_;
    try {
      console_ = createConsoleServer({ ctx, tls, metricsPublic: opts.metricsPublic, log: opts.log });
    } catch (e) {
      throw new BrrError('tls_invalid', `the TLS certificate or key cannot be used: ${(e as Error).message}`, {
        exitCode: 2,
        hint: 'pass a PEM certificate and its PEM private key',
      });
    }
    const url = await console_.listen(plan.host, plan.port);
    opts.log(
      `brr console listening on ${url}${opts.insecureHttp && !plan.tls && !isLoopback(plan.host) ? ' (INSECURE: plain HTTP)' : ''}`,
    );
    opts.onListening(url);
    if (!opts.signal.aborted)
      await new Promise<void>((r) => opts.signal.addEventListener('abort', () => r(), { once: true }));
    opts.log('brr console stopping');
    await console_.close();
  } finally {
    await ctx.close();
  }
}

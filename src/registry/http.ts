import http from 'node:http';
import type { Readable } from 'node:stream';

/**
 * The registry client's HTTP: node:http (node:https for TLS, loaded only when a URL needs it)
 * with one keep-alive agent per client, so a push's requests share a few connections. Not the
 * global fetch: loading undici made a CLI push's first request cost ~30 ms more, and each request
 * through web streams a few ms more, on a loopback registry where skopeo needs ~55 ms in all
 * (issue 13). Redirects, auth and status codes are the client's business (client.ts); this file
 * only moves one request and its answer. Bodies are Node streams; no Accept-Encoding is sent, so
 * blob bytes arrive as stored and their digest can be checked.
 */

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Sent whole (a Buffer) or piped (a stream; when it fails, the request is aborted with its error). */
  body?: Buffer | Readable;
}

export interface HttpResponse {
  status: number;
  headers: { get(name: string): string | null };
  /** The response body; consume it (readBody, discard) so the connection can carry the next request. */
  body: Readable;
}

/** One request, one answer: what RegistryClient and the token fetch send through (tests wrap it to count). */
export type Transport = (req: HttpRequest) => Promise<HttpResponse>;

export interface HttpTransport extends Transport {
  /** Closes idle connections (in-flight requests finish). */
  close(): void;
}

/** No byte for this long on a connection fails the request (undici's fetch defaults, 300 s). */
const IDLE_TIMEOUT_MS = 300_000;

let httpsModule: Promise<typeof import('node:https')> | null = null;

export function httpTransport(): HttpTransport {
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  let tlsAgent: import('node:https').Agent | null = null;
  const send = async (req: HttpRequest): Promise<HttpResponse> => {
    let request: typeof http.request = http.request;
    let useAgent: http.Agent = agent;
    if (req.url.protocol === 'https:') {
      const https = await (httpsModule ??= import('node:https'));
      tlsAgent ??= new https.Agent({ keepAlive: true, scheduling: 'lifo' });
      request = https.request;
      useAgent = tlsAgent;
    } else if (req.url.protocol !== 'http:') {
      throw new TypeError(`unsupported protocol ${req.url.protocol}`);
    }
    return new Promise<HttpResponse>((resolve, reject) => {
      const r = request(req.url, {
        method: req.method,
        headers: { 'user-agent': 'brr', ...req.headers },
        agent: useAgent,
        timeout: IDLE_TIMEOUT_MS,
      });
      // `on`, not `once`: an error after the answer (the body failing late) must not go unhandled.
      r.on('error', reject);
      r.once('timeout', () => r.destroy(Object.assign(new Error('no answer within 300 s'), { code: 'ETIMEDOUT' })));
      r.once('response', (res) => {
        resolve({
          status: res.statusCode ?? 0,
          headers: {
            get(name: string): string | null {
              const v = res.headers[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
            },
          },
          body: res,
        });
      });
      const body = req.body;
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        body.on('error', (e) => r.destroy(e));
        // A request that ends early (refused, reset) releases the body and what it reads.
        r.once('close', () => {
          if (!body.readableEnded) body.destroy();
        });
        body.pipe(r);
      }
    });
  };
  return Object.assign(send, {
    close(): void {
      agent.destroy();
      tlsAgent?.destroy();
    },
  });
}

/** Reads the whole body, refusing more than `cap` bytes (`tooBig` makes the error). */
export async function readBody(res: HttpResponse, cap: number, tooBig: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > cap) {
      res.body.destroy();
      throw tooBig();
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads and drops the body (usually empty), so the connection goes back to the agent for reuse. */
export function discard(res: HttpResponse): Promise<void> {
  const b = res.body;
  if (b.readableEnded || b.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    b.once('end', resolve);
    b.once('close', resolve);
    b.once('error', () => resolve());
    b.resume();
  });
}

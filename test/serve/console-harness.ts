/**
 * Test helpers for the operator console: the real `brr serve` (from dist/, through bin/brr.js)
 * started on 127.0.0.1:0 against a test home, HTTP(S) requests that keep every response body
 * (so a test can grep all of them for a secret), and a Server-Sent Events reader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { BRR, TEST_SECRETS_KEY } from '../e2e/harness.js';
import type { RecordedReply } from './openapi-check.js';

export interface Served {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote on stderr (its request log) so far. */
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Starts `brr serve` with `args` on the home; resolves with its URL once it printed it. */
export function startServe(home: string, args: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BRR, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: {
      ...process.env,
      BRR_HOME: home,
      NO_COLOR: '1',
      BRR_ACTOR: 'server@test',
      BRR_SECRETS_KEY: TEST_SECRETS_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brr serve did not start:\n${err}`)), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`brr serve exited ${code}:\n${err}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n') && /^https?:\/\//.test(line)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          url: line.trim(),
          child,
          stderr: () => err,
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r(child.exitCode);
              child.once('exit', (code) => r(code));
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Every response body received through `request` and `openStream`, for secret greps. */
export const bodies: string[] = [];
/** Every answer received through `request`, for the check against docs/openapi.yaml. */
export const replies: RecordedReply[] = [];
/** Every SSE event received, with the path of its stream. */
export const streamed: Array<{ path: string; event: string; data: unknown }> = [];

export function request(
  url: string,
  opts: {
    method?: string;
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    ca?: Buffer;
  } = {},
): Promise<Reply> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method: opts.method ?? 'GET', headers, ca: opts.ca, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        bodies.push(text);
        let json: unknown = undefined;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {}
        replies.push({
          method: opts.method ?? 'GET',
          path: u.pathname,
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          json,
        });
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface SseEvent {
  event: string;
  id?: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Opens an SSE stream; `events` fills as frames arrive; `waitFor` resolves on the first event matching. */
export function openStream(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{
  events: SseEvent[];
  status: number;
  waitFor(pred: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent>;
  close(): void;
}> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers }, agent: false },
      (res) => {
        const events: SseEvent[] = [];
        const waiters: Array<{ pred: (e: SseEvent) => boolean; done: (e: SseEvent) => void }> = [];
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          bodies.push(d);
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const e: Partial<SseEvent> = {};
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) e.event = line.slice(7);
              else if (line.startsWith('id: ')) e.id = line.slice(4);
              else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
            }
            if (!e.event) continue;
            events.push(e as SseEvent);
            streamed.push({ path: new URL(url).pathname, event: e.event, data: e.data });
            for (const w of [...waiters]) if (w.pred(e as SseEvent)) w.done(e as SseEvent);
          }
        });
        resolve({
          events,
          status: res.statusCode ?? 0,
          waitFor(pred, ms = 30_000) {
            const seen = events.find(pred);
            if (seen) return Promise.resolve(seen);
            return new Promise((ok, fail) => {
              const t = setTimeout(
                () =>
                  fail(new Error(`no such event within ${ms} ms; got ${JSON.stringify(events.map((x) => x.data))}`)),
                ms,
              );
              waiters.push({
                pred,
                done: (e) => {
                  clearTimeout(t);
                  ok(e);
                },
              });
            });
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}

/**
 * Server-Sent Events: the response headers, one frame per event (JSON data on one line, so a
 * payload can never end a frame early), a `: keepalive` comment every 15 s so proxies and
 * browsers keep the connection, and an AbortSignal that fires when the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const KEEPALIVE_MS = 15_000;

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  /** Aborted when the client disconnects (or the server stops). */
  signal: AbortSignal;
  /** Resolves once the stream has ended. */
  done: Promise<void>;
  end(): void;
}

export function openSse(req: IncomingMessage, res: ServerResponse, stop?: AbortSignal): SseStream {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    'X-Content-Type-Options': 'nosniff',
  });
  res.flushHeaders();
  const ac = new AbortController();
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  const onStop = () => res.end();
  const finish = () => {
    clearInterval(keepalive);
    stop?.removeEventListener('abort', onStop);
    if (!ac.signal.aborted) ac.abort();
    resolveDone();
  };
  req.on('close', finish);
  res.on('close', finish);
  // One listener per open stream on the server's shared signal, removed when the stream ends.
  stop?.addEventListener('abort', onStop, { once: true });
  // A client that went away while the stream was being prepared ends it at once.
  if (req.socket.destroyed || res.destroyed) finish();
  // A comment first, so a client sees the stream open before the first event.
  else res.write(': stream open\n\n');
  return {
    send(event, data, id) {
      if (ac.signal.aborted) return;
      res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    signal: ac.signal,
    done,
    end() {
      res.end();
      finish();
    },
  };
}

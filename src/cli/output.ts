import { isBrrError } from '../core/errors.js';

/** Colors only on a TTY and never with NO_COLOR. */
export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && !('NO_COLOR' in process.env);
}

const paint = (code: string) => (s: string, stream?: NodeJS.WriteStream) =>
  useColor(stream) ? `\x1b[${code}m${s}\x1b[0m` : s;
export const bold = paint('1');
export const dim = paint('2');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');

/**
 * `brr releases | head -1`: the reader went away, so stop as Unix tools do, quietly and with
 * success, instead of an EPIPE stack trace. Installed once by the entry point (main.ts).
 */
export function exitQuietlyOnBrokenPipe(): void {
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return; // nobody reads the diagnostics any more; results may still be wanted
    throw e;
  });
}

/**
 * Control characters in data (config values, process output) printed as escapes: a newline in
 * a value must not fake a second `KEY=value` line, and an ANSI escape must not reach the
 * terminal. Tab stays; everything else below 0x20, DEL and the C1 range (0x80–0x9f, where the
 * 8-bit CSI lives) become `\n`, `\r`, `\e` or `\xNN`.
 */
export function escapeControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\x1b') return '\\e';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** How a run ended, for "… is running (…)": a release that already ran did not switch at all. */
export function switchNote(run: { durationMs: number; activatedMs?: number; alreadyRunning?: boolean }): string {
  if (run.alreadyRunning) return 'it was already running';
  // The old release keeps its open connections and UDP flows until they end or its grace runs
  // out: say when the new one took over, not only when the old one was finally stopped.
  if (run.activatedMs !== undefined && run.durationMs - run.activatedMs >= 1000)
    return `switch took ${run.activatedMs} ms; the old release drained its connections and flows for ${Math.round((run.durationMs - run.activatedMs) / 100) / 10} s`;
  return `switch took ${run.durationMs} ms`;
}

/** Results go to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and logs go to stderr. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function warn(line: string): void {
  process.stderr.write(`${yellow('warning:')} ${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(headers), ...rows.map(fmt)];
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function humanDuration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** Turns any thrown value into the user's message, hint and exit code. */
export function reportError(e: unknown, json: boolean): number {
  if (isBrrError(e)) {
    if (json)
      process.stdout.write(
        `${JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint ?? null } })}\n`,
      );
    process.stderr.write(`${red('error:')} ${e.message}\n`);
    // A failed switch carries the failing process's last output: usually the real reason.
    const tail = e.details?.logTail;
    if (Array.isArray(tail) && tail.length > 0) {
      process.stderr.write(`${dim('last output of the failing process:')}\n`);
      for (const line of tail) process.stderr.write(`  ${String(line)}\n`);
    }
    if (e.hint) process.stderr.write(`${dim('hint:')} ${e.hint}\n`);
    return e.exitCode;
  }
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: { code: 'internal', message: String(e instanceof Error ? e.message : e), hint: null } })}\n`,
    );
  process.stderr.write(
    `${red('error:')} unexpected failure: ${msg}\nhint: this is a bug in brr; please report it with the command you ran\n`,
  );
  return 1;
}

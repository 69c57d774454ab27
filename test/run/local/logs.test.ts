import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingLog } from '../../../src/run/local/log-file.js';
import { followLogs, logFilesFor, tailLogs } from '../../../src/run/local/log-reader.js';

let logs: string;
beforeEach(() => {
  logs = mkdtempSync(join(tmpdir(), 'brr-logs-'));
});
afterEach(() => {
  rmSync(logs, { recursive: true, force: true });
});

const numbered = (from: number, to: number, prefix = 'line') =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix} ${String(from + i).padStart(3, '0')}`);

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RotatingLog', () => {
  it('rotates at the size limit between lines and keeps `keep` rotated files', () => {
    const file = join(logs, 'app', 'web.1.log');
    const log = new RotatingLog(file, { maxBytes: 100, keep: 2 });
    const lines = numbered(1, 60); // 9 bytes each with newline
    for (const l of lines) log.write(l + '\n');
    log.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    const texts = [`${file}.2`, `${file}.1`, file].map((f) => readFileSync(f, 'utf8'));
    for (const [i, f] of [`${file}.2`, `${file}.1`].entries()) {
      expect(statSync(f).size).toBeLessThanOrEqual(100);
      expect(texts[i]!.endsWith('\n')).toBe(true);
    }
    // The three files hold the newest lines, in order, none split.
    const kept = texts.join('').split('\n').filter(Boolean);
    expect(kept).toEqual(lines.slice(-kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(22);
  });

  it('keeps a chunk of many lines whole per line, and cuts only a line longer than a file', () => {
    const file = join(logs, 'web.1.log');
    const log = new RotatingLog(file, { maxBytes: 50, keep: 5 });
    log.write(numbered(1, 12).join('\n') + '\n'); // 108 bytes in one chunk
    log.write('x'.repeat(120) + '\n');
    log.close();
    const all = [5, 4, 3, 2, 1]
      .map((i) => `${file}.${i}`)
      .filter(existsSync)
      .concat(file)
      .map((f) => readFileSync(f, 'utf8'));
    for (const t of all) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(50);
    expect(all.join('')).toBe(numbered(1, 12).join('\n') + '\n' + 'x'.repeat(120) + '\n');
    expect(all.slice(0, 3).every((t) => t.endsWith('\n'))).toBe(true);
  });

  it('writes markers on their own line and continues an existing file', () => {
    const file = join(logs, 'web.1.log');
    const a = new RotatingLog(file);
    a.writeMarker('started v3 pid 123');
    a.write('partial');
    a.close();
    const b = new RotatingLog(file);
    b.writeMarker('exited v3 pid 123 code 1');
    b.close();
    expect(readFileSync(file, 'utf8')).toBe(
      '--- brr: started v3 pid 123 ---\npartial\n--- brr: exited v3 pid 123 code 1 ---\n',
    );
  });

  it('with keep 0 drops the old file', () => {
    const file = join(logs, 'web.1.log');
    const log = new RotatingLog(file, { maxBytes: 20, keep: 0 });
    for (const l of numbered(1, 10)) log.write(l + '\n');
    log.close();
    expect(existsSync(`${file}.1`)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('line 009\nline 010\n');
  });
});

describe('logFilesFor and tailLogs', () => {
  function writeLog(name: string, lines: string[], opts?: { maxBytes?: number; keep?: number }) {
    const log = new RotatingLog(join(logs, 'app', name), opts);
    for (const l of lines) log.write(l + '\n');
    log.close();
  }

  it('lists current files sorted by type and numeric index, filtered by type', () => {
    for (const n of ['web.10.log', 'web.2.log', 'worker.1.log', 'web.2.log.1', 'notes.txt']) {
      mkdirSync(join(logs, 'app'), { recursive: true });
      writeFileSync(join(logs, 'app', n), 'x\n');
    }
    expect(logFilesFor(logs, 'app')).toEqual(
      ['web.2.log', 'web.10.log', 'worker.1.log'].map((n) => join(logs, 'app', n)),
    );
    expect(logFilesFor(logs, 'app', 'worker')).toEqual([join(logs, 'app', 'worker.1.log')]);
    expect(logFilesFor(logs, 'nope')).toEqual([]);
  });

  it('returns the last N lines per source, reaching into rotated files', async () => {
    writeLog('web.1.log', numbered(1, 40, 'a'), { maxBytes: 60, keep: 3 });
    writeLog('web.2.log', ['only one']);
    writeLog('worker.1.log', numbered(1, 3, 'w'));
    appendFileSync(join(logs, 'app', 'worker.1.log'), 'unfinished');

    const got = await tailLogs(logs, 'app', { lines: 12 });
    expect(got.filter((l) => l.source === 'web.1').map((l) => l.line)).toEqual(numbered(29, 40, 'a'));
    expect(got.filter((l) => l.source === 'web.2')).toEqual([{ source: 'web.2', line: 'only one' }]);
    expect(got.filter((l) => l.source === 'worker.1').map((l) => l.line)).toEqual([
      ...numbered(1, 3, 'w'),
      'unfinished',
    ]);
    expect([...new Set(got.map((l) => l.source))]).toEqual(['web.1', 'web.2', 'worker.1']);

    expect((await tailLogs(logs, 'app', { processType: 'worker', lines: 2 })).map((l) => l.line)).toEqual([
      'w 003',
      'unfinished',
    ]);
    expect(await tailLogs(logs, 'missing-app', {})).toEqual([]);
  });

  it('reads lines across chunk boundaries of big files', async () => {
    const big = numbered(1, 20000, 'long line with some padding to make the file large');
    writeLog('web.1.log', big, { maxBytes: 100 * 1024 * 1024 });
    const got = await tailLogs(logs, 'app', { lines: 5000 });
    expect(got.map((l) => l.line)).toEqual(big.slice(-5000));
  });
});

describe('followLogs', () => {
  it('follows new lines, across rotations and partial writes, and logs that appear later; abort ends it', async () => {
    const file = join(logs, 'app', 'web.1.log');
    const web1 = new RotatingLog(file, { maxBytes: 200, keep: 3 });
    for (const l of numbered(1, 5)) web1.write(l + '\n');

    const seen: Array<[string, string]> = [];
    const ac = new AbortController();
    const done = followLogs(logs, 'app', {
      lines: 2,
      onLine: (s, l) => seen.push([s, l]),
      signal: ac.signal,
      pollMs: 20,
    });
    const linesOf = (src: string) => seen.filter(([s]) => s === src).map(([, l]) => l);

    await until(() => seen.length >= 2);
    expect(linesOf('web.1')).toEqual(['line 004', 'line 005']);

    // Slow writing: many polls per rotation.
    for (const l of numbered(6, 60)) {
      web1.write(l + '\n');
      if (Number(l.slice(5)) % 5 === 0) await new Promise((r) => setTimeout(r, 15));
    }
    await until(() => linesOf('web.1').length >= 57);
    expect(existsSync(`${file}.2`)).toBe(true);

    // A line written in two pieces arrives once, whole.
    web1.write('half a ');
    await new Promise((r) => setTimeout(r, 60));
    web1.write('line\n');

    // A process that appears after following began (scale 1 → 2).
    const web2 = new RotatingLog(join(logs, 'app', 'web.2.log'));
    web2.write('hello from web.2\n');
    await until(() => linesOf('web.1').length >= 58 && linesOf('web.2').length >= 1);

    expect(linesOf('web.1')).toEqual([...numbered(4, 60), 'half a line']);
    expect(linesOf('web.2')).toEqual(['hello from web.2']);

    ac.abort();
    await done;
    web1.close();
    web2.close();
  });

  it('loses nothing when rotation outpaces polling by a few files', async () => {
    const file = join(logs, 'app', 'web.1.log');
    const log = new RotatingLog(file, { maxBytes: 100, keep: 5 });
    const seen: string[] = [];
    const ac = new AbortController();
    const done = followLogs(logs, 'app', { onLine: (_s, l) => seen.push(l), signal: ac.signal, pollMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    // ~3 rotations in one burst, between two polls.
    for (const l of numbered(1, 40)) log.write(l + '\n');
    await until(() => seen.length >= 40);
    await new Promise((r) => setTimeout(r, 400)); // one more poll: nothing repeated
    expect(seen).toEqual(numbered(1, 40));
    ac.abort();
    await done;
    log.close();
  });

  it('waits for an app whose logs do not exist yet, and returns at once when already aborted', async () => {
    const seen: string[] = [];
    const ac = new AbortController();
    const done = followLogs(logs, 'later', { onLine: (_s, l) => seen.push(l), signal: ac.signal, pollMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    const log = new RotatingLog(join(logs, 'later', 'nf.1.log'));
    log.write('first\n');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['first']);
    ac.abort();
    await done;
    log.close();

    const aborted = new AbortController();
    aborted.abort();
    await followLogs(logs, 'later', { onLine: () => seen.push('x'), signal: aborted.signal });
    expect(seen).toEqual(['first']);
  });
});

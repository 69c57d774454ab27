import { BrrError } from '../core/errors.js';

/**
 * The tar block format (POSIX ustar + PAX extended headers), shared by the writer and the
 * extractor. Pure functions over bytes: no filesystem here.
 */

export const BLOCK = 512;

export type TarType = 'file' | 'dir' | 'symlink';

export interface TarHeader {
  /** Path inside the archive; directories end with `/`. */
  name: string;
  type: TarType;
  mode: number;
  size: number;
  mtime: number;
  linkname: string;
}

const TYPE_FLAG: Record<TarType, string> = { file: '0', dir: '5', symlink: '2' };

/** Zero-padded octal with a trailing NUL, as ustar numeric fields want. */
function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** One 512-byte header block. Fields that do not fit must be carried by a PAX header first. */
function rawHeader(name: Buffer, flag: string, mode: number, size: number, mtime: number, linkname: Buffer): Buffer {
  const b = Buffer.alloc(BLOCK);
  name.copy(b, 0, 0, 100);
  b.write(octal(mode, 8), 100, 'ascii');
  b.write(octal(0, 8), 108, 'ascii'); // uid 0
  b.write(octal(0, 8), 116, 'ascii'); // gid 0
  b.write(octal(size, 12), 124, 'ascii');
  b.write(octal(mtime, 12), 136, 'ascii');
  b.write(flag, 156, 'ascii');
  linkname.copy(b, 157, 0, 100);
  b.write('ustar\0' + '00', 257, 'ascii');
  // uname, gname, devmajor, devminor and prefix stay empty so no host detail leaks in.
  b.write(octal(checksum(b), 7) + ' ', 148, 'ascii');
  return b;
}

/** A PAX record `"<len> key=value\n"`, where len counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * Header blocks for one entry: a PAX header first when the name or link target is longer than
 * the ustar fields (or not ASCII), then the ustar header.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const fits = (s: string) => Buffer.byteLength(s) <= 100 && /^[\x20-\x7e]*$/.test(s);
  const parts: Buffer[] = [];
  if (!fits(h.name) || !fits(h.linkname)) {
    let pax = '';
    if (!fits(h.name)) pax += paxRecord('path', h.name);
    if (!fits(h.linkname)) pax += paxRecord('linkpath', h.linkname);
    const body = Buffer.from(pax, 'utf8');
    // A fixed pseudo-name (no pid, unlike GNU tar) keeps the archive reproducible.
    parts.push(
      rawHeader(Buffer.from('PaxHeaders/entry'), 'x', 0o644, body.length, h.mtime, Buffer.alloc(0)),
      body,
      padding(body.length),
    );
  }
  // Readers without PAX support get the first 100 bytes; PAX-aware readers use the record.
  parts.push(
    rawHeader(Buffer.from(h.name, 'utf8'), TYPE_FLAG[h.type], h.mode, h.size, h.mtime, Buffer.from(h.linkname, 'utf8')),
  );
  return Buffer.concat(parts);
}

/** The two zero blocks that end an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

export { padding as blockPadding };

function invalid(msg: string): BrrError {
  return new BrrError('tar_invalid', `tar archive: ${msg}`, {
    hint: 'the archive is damaged or not a tar file; rebuild it',
  });
}

function cstr(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

/** Octal numeric field, or GNU base-256 when the high bit is set. */
function num(b: Buffer, start: number, len: number): number {
  if (b[start]! & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

export interface RawEntry {
  name: string;
  flag: string;
  mode: number;
  size: number;
  mtime: number;
  linkname: string;
}

/** Decodes one header block; null for a zero block (end of archive). */
export function decodeHeader(b: Buffer): RawEntry | null {
  if (b.every((x) => x === 0)) return null;
  const stored = num(b, 148, 8);
  if (stored !== checksum(b)) throw invalid('header checksum mismatch');
  const prefix = b.toString('ascii', 257, 262) === 'ustar' ? cstr(b, 345, 155) : '';
  const name = cstr(b, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    flag: String.fromCharCode(b[156] || 0x30),
    mode: num(b, 100, 8),
    size: num(b, 124, 12),
    mtime: num(b, 136, 12),
    linkname: cstr(b, 157, 100),
  };
}

/** Parses PAX records into a map (only the keys brr uses matter to callers). */
export function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(body.toString('ascii', i, sp), 10);
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) throw invalid('malformed PAX record');
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Normalizes an archive path to a safe relative POSIX path, or returns null when it would land
 * outside the target (absolute, or with a `..` component).
 */
export function safeRelative(name: string): string | null {
  if (name.startsWith('/') || name.includes('\0')) return null;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  return parts.join('/');
}

/**
 * Whether a symlink at `entry` pointing to `target` resolves inside the root, following the
 * other symlinks of the same tree (`links`: relative path → target). Lexical checks alone are
 * not enough: with `l -> .`, the link `m -> l/..` looks inside but resolves to the parent.
 * Components that are not links are taken as directories, so callers must create links last.
 */
export function linkStaysInside(entry: string, target: string, links: ReadonlyMap<string, string>): boolean {
  if (target === '' || target.startsWith('/')) return false;
  const at: string[] = entry.split('/').slice(0, -1);
  let rest = target.split('/');
  let budget = 40; // like the kernel's ELOOP limit: a cycle counts as escaping
  while (rest.length > 0) {
    const c = rest.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (at.length === 0) return false;
      at.pop();
      continue;
    }
    at.push(c);
    const next = links.get(at.join('/'));
    if (next === undefined) continue;
    if (--budget < 0 || next.startsWith('/')) return false;
    at.pop();
    rest = [...next.split('/'), ...rest];
  }
  return true;
}

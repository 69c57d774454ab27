import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashCanonical, sha256Digest, sha256Hex } from '../../src/core/canonical-json.js';

// Ledger hashes are computed over this encoding; if any of these change, every stored chain breaks.
describe('canonicalJson', () => {
  it.each([
    ['null', null, 'null'],
    ['true', true, 'true'],
    ['integer', 42, '42'],
    ['negative fraction', -1.5, '-1.5'],
    ['negative zero', -0, '0'],
    ['string with quotes and newline', 'a"b\nc', '"a\\"b\\nc"'],
    ['control character', '\u0001', '"\\u0001"'],
    ['empty object', {}, '{}'],
    ['empty array', [], '[]'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('sorts keys by UTF-16 code unit, at every depth, without whitespace', () => {
    const value = { b: 1, a: { z: [3, { y: 1, x: 2 }], B: null }, _: 0 };
    expect(canonicalJson(value)).toBe('{"_":0,"a":{"B":null,"z":[3,{"x":2,"y":1}]},"b":1}');
  });

  it('does not depend on insertion order', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });

  it('keeps non-ASCII text as UTF-8 characters and orders keys by code unit, not code point', () => {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFF by code unit.
    expect(canonicalJson({ '\uffff': 1, '😀': 2, é: 3, e: 4 })).toBe('{"e":4,"é":3,"😀":2,"\uffff":1}');
    expect(canonicalJson('snow ☃')).toBe('"snow ☃"');
  });

  it('escapes lone surrogates so the text is valid UTF-8', () => {
    expect(canonicalJson('\ud800')).toBe('"\\ud800"');
  });

  it('drops undefined members and turns undefined array items into null', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', 1n],
    ['undefined at the top', undefined],
    ['NaN nested in an object', { a: [1, { b: NaN }] }],
    ['a function nested in an object', { f: () => 1 }],
  ])('rejects %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('hashes', () => {
  const value = { z: 0, b: { d: -1.5, c: 'é☃😀' }, a: [1, 'x', null, true] };
  const text = '{"a":[1,"x",null,true],"b":{"c":"é☃😀","d":-1.5},"z":0}';
  // Computed once outside Node with: printf '%s' "$text" | sha256sum
  const expectedHex = '200711379e7f43898c775c51077c348fcd88b31e3e10f1ac38f106a9f5dbf017';

  it('hashes the canonical text with a fixed, known result', () => {
    expect(canonicalJson(value)).toBe(text);
    expect(hashCanonical(value)).toBe(expectedHex);
    expect(sha256Hex(text)).toBe(expectedHex);
    expect(sha256Digest(text)).toBe(`sha256:${expectedHex}`);
  });

  it('agrees with coreutils sha256sum on the UTF-8 bytes', () => {
    const out = spawnSync('sha256sum', [], { input: Buffer.from(canonicalJson(value), 'utf8'), encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stdout.split(' ')[0]).toBe(expectedHex);
  });

  it('hashes strings and their UTF-8 bytes alike', () => {
    expect(sha256Hex(new TextEncoder().encode(text))).toBe(expectedHex);
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

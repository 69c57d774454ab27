import { describe, expect, it } from 'vitest';
import { configEnv, parseAssignments, redactConfig, validateConfigKey } from '../../src/release/config.js';
import { plain, secret } from './fixtures.js';
import { brrErrorOf } from '../helpers/errors.js';

const errorOf = brrErrorOf;

describe('parseAssignments', () => {
  it.each([
    [['A=1'], { A: '1' }],
    [['URL=postgres://u:p@h/db?x=1&y=2'], { URL: 'postgres://u:p@h/db?x=1&y=2' }],
    [['EMPTY='], { EMPTY: '' }],
    [['A=1', 'B= spaced value '], { A: '1', B: ' spaced value ' }],
    [['_X9==='], { _X9: '==' }],
    [[], {}],
  ])('%j', (args, expected) => expect(parseAssignments(args)).toEqual(expected));

  it('names the argument without "=" and exits 2', () => {
    const e = errorOf(() => parseAssignments(['A=1', 'LOG_LEVEL']));
    expect(e.code).toBe('config_assignment_invalid');
    expect(e.message).toContain('"LOG_LEVEL"');
    expect(e.hint).toContain('LOG_LEVEL=VALUE');
    expect(e.exitCode).toBe(2);
  });

  it.each([
    ['=value', 'config_key_invalid'],
    ['9LIVES=1', 'config_key_invalid'],
    ['A-B=1', 'config_key_invalid'],
    ['LISTEN_PID=1', 'config_key_reserved'],
  ])('rejects %j', (arg, code) => expect(errorOf(() => parseAssignments([arg])).code).toBe(code));

  it('rejects a key given twice', () => {
    expect(errorOf(() => parseAssignments(['A=1', 'A=2'])).code).toBe('config_key_repeated');
  });
});

describe('validateConfigKey', () => {
  it.each(['PORT', 'LOG_LEVEL', '_private', 'a', 'X1', 'BRR', 'MY_BRR_X', 'LISTEN_FDS_EXTRA'])('accepts %s', (key) => {
    expect(() => validateConfigKey(key)).not.toThrow();
  });

  it.each([
    ['LISTEN_FDS', 'config_key_reserved', 'ports'],
    ['LISTEN_PID', 'config_key_reserved', 'ports'],
    ['LISTEN_FDNAMES', 'config_key_reserved', 'ports'],
    ['BRR_HOME', 'config_key_reserved', 'HOME'],
    ['BRR_', 'config_key_reserved', 'prefix'],
    ['', 'config_key_invalid', 'letters'],
    ['1A', 'config_key_invalid', 'letters'],
    ['A B', 'config_key_invalid', 'letters'],
    ['ÄPFEL', 'config_key_invalid', 'letters'],
  ])('rejects %j with %s and a hint', (key, code, hintWord) => {
    const e = errorOf(() => validateConfigKey(key));
    expect(e.code).toBe(code);
    expect(e.hint).toContain(hintWord);
    expect(e.exitCode).toBe(2);
  });
});

describe('redactConfig and configEnv', () => {
  const config = { Z: plain('last'), TOKEN: secret('hunter2'), A: plain('first') };

  it('redacts secret values and sorts keys', () => {
    const r = redactConfig(config);
    expect(r).toEqual({ A: 'first', TOKEN: '<redacted>', Z: 'last' });
    expect(Object.keys(r)).toEqual(['A', 'TOKEN', 'Z']);
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('gives processes every value, secrets included', () => {
    expect(configEnv(config, null)).toEqual({ A: 'first', TOKEN: 'hunter2', Z: 'last' });
  });
});

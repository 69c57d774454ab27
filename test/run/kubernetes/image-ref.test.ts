import { describe, expect, it } from 'vitest';
import { defaultPushTarget, pushedReference } from '../../../src/run/kubernetes/image-ref.js';

/** The image a render names is where the build was pushed for this app, never a made-up one. */

const D = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

describe('pushedReference', () => {
  it.each([
    ['pushed to the registry itself (brr push --to REG/nf)', ['reg:5000/nf@' + D], 'reg:5000/nf@' + D],
    ['pushed with a tag', ['reg:5000/nf:v2@' + D], 'reg:5000/nf@' + D],
    ['pushed to <registry>/<app> (brr run)', ['reg:5000/nf/upf@' + D], 'reg:5000/nf/upf@' + D],
    ['both: the registry itself wins', ['reg:5000/nf/upf@' + D, 'reg:5000/nf@' + D], 'reg:5000/nf@' + D],
    ['only elsewhere', ['other:5000/nf@' + D, 'reg:5000/nf/amf@' + D], null],
    ['another build there', ['reg:5000/nf@' + OTHER], null],
    ['never pushed', [], null],
  ])('%s', (_, pushed, want) => {
    expect(pushedReference(pushed, 'reg:5000/nf/', 'upf', D)).toBe(want);
  });

  it('pushes to <registry>/<app> by default', () => {
    expect(defaultPushTarget('reg:5000/nf/', 'upf')).toBe('reg:5000/nf/upf');
  });
});

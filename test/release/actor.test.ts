import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultActor } from '../../src/release/actor.js';

describe('defaultActor', () => {
  it('is user@host by default', () => {
    expect(defaultActor({})).toBe(`${os.userInfo().username}@${os.hostname()}`);
  });

  it('is overridden by BRR_ACTOR, trimmed', () => {
    expect(defaultActor({ BRR_ACTOR: '  ci:pipeline-812 ' })).toBe('ci:pipeline-812');
  });

  it('ignores an empty BRR_ACTOR', () => {
    expect(defaultActor({ BRR_ACTOR: '   ' })).toBe(`${os.userInfo().username}@${os.hostname()}`);
  });
});

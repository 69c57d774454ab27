import { describe, expect, it } from 'vitest';
import * as brr from '../../src/index.js';

describe('brr as a library', () => {
  it('exports the use-cases the CLI runs, without running the CLI', () => {
    for (const name of [
      'buildImage',
      'createRelease',
      'changeConfig',
      'appendRollback',
      'runRelease',
      'openContext',
      'openLedger',
      'runSupervisor',
      'renderRelease',
      'parseManifest',
    ]) {
      expect(typeof (brr as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(brr.EVENT_TYPES).toContain('activated');
  });
});

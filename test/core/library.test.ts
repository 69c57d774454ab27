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
      // One call per verb, each taking the deploy lease itself where it writes.
      'deployApp',
      'releaseApp',
      'rollbackApp',
      'runApp',
      'promoteApp',
      'setConfig',
      'unsetConfig',
      'listAppReleases',
      'listProcesses',
      'readAppLogs',
      'listAppBuilds',
      // The operator console's verbs (issue 12).
      'createToken',
      'revokeToken',
      'pageAppReleases',
    ]) {
      expect(typeof (brr as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(brr.EVENT_TYPES).toContain('activated');
  });
});

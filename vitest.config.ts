import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // The CLI's V8 code caches (bin/brr.js) go to a directory of the tests, not the user's
    // ~/.cache: every rebuild makes new ones (bin/brr.js keeps the newest 64).
    env: { XDG_CACHE_HOME: path.join(tmpdir(), 'brr-test-cache') },
    reporters: ['default'],
  },
});

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layer rule: each folder of src/ may import only the folders below it. Checked on import specifiers, so relative paths are matched by folder name anywhere in
 * them (`../../run/local/client.js` names run/). Type-only imports count too: a layer that needs
 * a type from above is a layer that knows about it.
 *
 *   cli        → app, core, manifest, serve only: flags in, one verb call, printing out. manifest
 *                is allowed for parseDuration (--wait, --timeout are parsed at the edge); serve
 *                for `brr serve`; every read of the ledger, the store, the supervisor or a
 *                registry goes through app/.
 *   serve      → app, core only: the HTTP server of the operator console is another edge like
 *                cli/ (requests in, verb calls, JSON out); it never reaches past app/.
 *   app        → anything below (the verbs: read state once, plan purely, apply)
 *   build      → core, manifest, store, registry (base images): never run/, so a build cannot
 *                know how it will be run
 *   registry   → core, manifest, store
 *   store      → core, manifest
 *   run        → core, manifest and its own run/types.ts: the supervisor and the Kubernetes
 *                target get what they need from the ledger and the store through app/
 *   ledger     → core, manifest, release (the pure rules it runs inside its transactions);
 *                never app/, cli/, run/, store/, build/, registry/
 *   release    → core, manifest, ledger (types, and trust's reading wrapper); never app/,
 *                cli/, run/, store/, build/, registry/
 *   manifest   → core
 *   core       → nothing of ours
 */
const layer = (folders) =>
  folders.map((f) => ({
    group: [`**/${f}/*`, `**/${f}/**`],
    message: `this layer may not import ${f}/ (see the layer rule at the top of eslint.config.js)`,
  }));
const restrict = (files, folders) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: layer(folders) }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // bin/ is CommonJS (bin/package.json): the executable starts without Node's ES module loader.
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The dashboard runs in the browser (plain ES modules, no build step): browser globals only.
    files: ['dashboard/**/*.js'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        Node: 'readonly',
        HTMLElement: 'readonly',
        EventSource: 'readonly',
        Intl: 'readonly',
      },
    },
  },
  restrict(['src/cli/**'], ['build', 'ledger', 'registry', 'release', 'run', 'store']),
  restrict(['src/app/**'], ['cli', 'serve']),
  restrict(['src/serve/**'], ['build', 'cli', 'ledger', 'manifest', 'registry', 'release', 'run', 'store']),
  restrict(
    ['src/core/**'],
    ['app', 'build', 'cli', 'ledger', 'manifest', 'registry', 'release', 'run', 'store', 'serve'],
  ),
  restrict(['src/manifest/**'], ['app', 'build', 'cli', 'ledger', 'registry', 'release', 'run', 'store', 'serve']),
  restrict(['src/release/**'], ['app', 'cli', 'run', 'store', 'build', 'registry', 'serve']),
  restrict(['src/ledger/**'], ['app', 'cli', 'run', 'store', 'build', 'registry', 'serve']),
  restrict(['src/run/**'], ['app', 'cli', 'build', 'ledger', 'registry', 'release', 'store', 'serve']),
  restrict(['src/store/**'], ['app', 'cli', 'build', 'ledger', 'registry', 'release', 'run', 'serve']),
  restrict(['src/registry/**'], ['app', 'cli', 'build', 'ledger', 'release', 'run', 'serve']),
  restrict(['src/build/**'], ['app', 'cli', 'ledger', 'release', 'run', 'serve']),
);

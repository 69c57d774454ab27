import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layer rule (docs/architecture.md): each folder of src/ may import only the folders below
 * it. Checked on import specifiers, so relative paths are matched by folder name anywhere in
 * them (`../../run/local/client.js` names run/). Type-only imports count too: a layer that needs
 * a type from above is a layer that knows about it.
 *
 *   cli        → app, core, manifest (flags, printing; every verb is one call into app/)
 *   app        → anything below (the verbs: read state, plan, apply)
 *   build, registry, store, run → core, manifest, release, ledger-free; never app/ or cli/
 *   ledger     → core (and release/ types it stores); never app/, cli/, run/
 *   release    → core, ledger types (pure rules); never app/, cli/, run/, store/
 *   manifest   → core
 *   core       → nothing of ours
 */
const layer = (folders) =>
  folders.map((f) => ({
    group: [`**/${f}/*`, `**/${f}/**`],
    message: `this layer may not import ${f}/ (see the layer rule in eslint.config.js and docs/architecture.md)`,
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
  restrict(['src/cli/**'], ['build', 'ledger', 'registry', 'release', 'run', 'store']),
  restrict(['src/core/**'], ['app', 'build', 'cli', 'ledger', 'manifest', 'registry', 'release', 'run', 'store']),
  restrict(['src/manifest/**'], ['app', 'build', 'cli', 'ledger', 'registry', 'release', 'run', 'store']),
  restrict(['src/release/**'], ['app', 'cli', 'run', 'store', 'build', 'registry']),
  restrict(['src/ledger/**'], ['app', 'cli', 'run', 'store', 'build', 'registry']),
  restrict(['src/run/**', 'src/store/**', 'src/build/**', 'src/registry/**'], ['app', 'cli']),
);

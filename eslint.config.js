// ESLint for the whole repository, run by `npm run check` in .ci/run. typescript-eslint's
// recommended rules without type information (the type-aware set takes minutes on a 2-core
// machine; `tsc --noEmit` already type-checks everything). Deviations from the recommended set are
// listed with the reason beside each.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'console/dist/**', '.substrate/**', 'docs/examples/**', 'tests/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', performance: 'readonly', fetch: 'readonly', Request: 'readonly', Response: 'readonly', Headers: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', globalThis: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
    rules: {
      // No `any` in public types (docs/decisions.md): an error outside tests.
      '@typescript-eslint/no-explicit-any': 'error',
      // A binding closed over before its one assignment (a callback set up before the value exists)
      // cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_name` marks a deliberately unused binding (callbacks with a fixed signature).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The in-isolate runtime (sandbox/runtime/, bundled into each context): ported JavaScript whose
    // shapes are fixed by the web APIs it implements.
    files: ['sandbox/runtime/**'],
    rules: {
      // `catch {}` is how a brand check or a best-effort report says "not this kind / nothing to do".
      'no-empty': ['error', { allowEmptyCatch: true }],
      // URL and string escaping match control characters on purpose.
      'no-control-regex': 'off',
      // A rest parameter would change a wrapped built-in's `length`, which capability code sees.
      'prefer-rest-params': 'off',
    },
  },
  {
    files: ['tests/**'],
    rules: {
      // Tests poke at hostile and malformed values on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);

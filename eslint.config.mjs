// Lint run by `npm test` (npm run lint). Type-aware rules from typescript-eslint catch the promise
// mistakes that lose data in a replication pipeline: an un-awaited write, an async callback whose
// rejection nobody sees.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '**/cdk.out/**', '**/*.js', '**/*.mjs', 'test/aws/**/*.snapshot/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // The codebase's (and tsc's noUnusedLocals') convention: a leading underscore marks a binding kept on
      // purpose — a positional parameter, or a property split off with a rest pattern.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // bin/ddb-replicate.js registers only tsx's CommonJS hook: a dynamic import() of a .ts module
      // would fail there (ERR_UNKNOWN_FILE_EXTENSION) while passing under ts-jest.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'Load our modules with require (see bin/ddb-replicate.js: the CLI registers only tsx\'s CommonJS hook).' }],
    },
  },
  {
    // The bench and the code generators run under the `tsx` command, which registers both hooks.
    files: ['bench/**/*.ts', 'schemas/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Test fakes stand in for Promise-returning ports: `async` makes a fake's throw a rejection, exactly
      // like the real adapter it replaces (many fakes throw on purpose). The promise-safety rules
      // (no-floating-promises, no-misused-promises, await-thenable…) stay on for tests.
      '@typescript-eslint/require-await': 'off',
      // jest's asymmetric matchers (expect.any, objectContaining, closeTo…) and aws-cdk-lib/assertions'
      // Template.findResources are typed `any` by those libraries, and tests read deep into templates;
      // a wrong shape fails the test itself. no-unsafe-argument and no-unsafe-call stay on, and JSON.parse
      // results in tests are typed (unknown or a cast to the fixture's shape).
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);

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
    },
  },
);

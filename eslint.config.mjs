// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'coverage/**', '.run/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      'no-console': 'error',
    },
  },
  {
    // npm hoists every workspace's packages to the root, so an import the workspace never
    // declared still works here and breaks wherever the workspace is installed on its own.
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: true } },
    rules: {
      // Checked against the package.json nearest to each file: its own workspace's.
      'import-x/no-extraneous-dependencies': [
        'error',
        { devDependencies: false, includeTypes: true },
      ],
    },
  },
  {
    // Tests, test helpers and fixtures may use devDependencies; everything else ships.
    files: ['**/test/**', '**/*.test.ts', 'scripts/*.ts', 'scripts/*.js', '*.js', '*.mjs'],
    rules: {
      'import-x/no-extraneous-dependencies': [
        'error',
        { devDependencies: true, includeTypes: true },
      ],
    },
  },
  {
    // The domain layer is pure: deciders and their tests load the domain kernel, the contracts
    // and other domain files, nothing with I/O. infra/test/architecture/domain-purity.test.ts
    // checks this block by its name and counts what a decider loads.
    name: 'domain-purity',
    files: ['*/src/domain/**/*.ts', '*/test/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Everything but the kernel, the contracts, node:crypto (hashing, no I/O) and
              // files in a domain folder (`./x`; from test/domain, `../../src/domain/x`).
              regex:
                '^(?!(@meetmatt/infra/domain(/testing)?|@meetmatt/contracts|node:crypto)$|\\./[^.]|(\\.\\./)+(src/)?domain/)',
              message:
                'The domain layer imports only @meetmatt/infra/domain, @meetmatt/contracts, node:crypto and other domain files: nothing with I/O, no other layer (ARCHITECTURE.md).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', 'scripts/src/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: globals.node,
      sourceType: 'commonjs',
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
);

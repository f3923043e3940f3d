// One jest transform for every workspace: @swc/jest compiles TypeScript to CommonJS.
// jose 6 ships ESM only, so it is transformed too (everything else in node_modules is CJS).
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*/test/**/*.test.ts'],
  // The EventStoreDB contract run needs a server; `npm test` prints a line when it is left out.
  testPathIgnorePatterns: [
    '/node_modules/',
    ...(process.env.EVENTSTORE_TEST_URL ? [] : ['esdb\\.contract\\.test\\.ts$']),
  ],
  // Run output (scripts/.run/ holds the CLI bundle the CLI tests build): never a module to crawl.
  modulePathIgnorePatterns: ['/\\.run/'],
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  setupFiles: [path.join(__dirname, 'infra/test-setup/env.js')],
  testTimeout: 30000,
};

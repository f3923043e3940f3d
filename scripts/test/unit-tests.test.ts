import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// Plain CommonJS files at the root and in infra/test-setup, shared with jest itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const unitConfig = require('../../jest.unit.config.js') as {
  testMatch: string[];
  selection: { unitFolders: string[]; unitFiles: string[] };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const guard = require('../../infra/test-setup/no-network.js') as {
  forbidNetwork(): void;
  allowNetwork(): void;
  takeAttempts(): string[];
  isForbidden(): boolean;
};

const root = path.resolve(__dirname, '../..');

// Under `npm run test:unit` the guard is already on; under `npm test` this file turns it on for
// its own tests only and leaves the network as it found it.
function withGuard(run: () => Promise<void>): () => Promise<void> {
  return async () => {
    const wasOn = guard.isForbidden();
    guard.forbidNetwork();
    try {
      await run();
    } finally {
      guard.takeAttempts();
      if (!wasOn) guard.allowNetwork();
    }
  };
}

describe('the unit tests’ network guard', () => {
  test(
    'when a unit test connects to PostgreSQL’s port, then the connection is refused naming the target',
    withGuard(async () => {
      expect(() => net.connect({ host: '127.0.0.1', port: 5432 })).toThrow(
        /connection to 127\.0\.0\.1:5432 was attempted/,
      );
      expect(guard.takeAttempts()).toEqual(['127.0.0.1:5432']);
    }),
  );

  test(
    'when a unit test fetches over HTTP, then the request fails and the attempt is recorded',
    withGuard(async () => {
      await expect(fetch('http://127.0.0.1:5672/')).rejects.toThrow();
      expect(guard.takeAttempts()).toEqual(['127.0.0.1:5672']);
    }),
  );
});

describe('the unit selection (jest.unit.config.js)', () => {
  test('when a pure test is named in the selection, then its file exists', () => {
    const missing = unitConfig.selection.unitFiles.filter(
      (file) => !fs.existsSync(path.join(root, file)),
    );
    expect(missing).toEqual([]);
  });

  test('when a service has domain tests, then the unit run selects its test/domain folder', () => {
    const withDomainTests = ['payment-service', 'user-service', 'brain-service'].filter((dir) =>
      fs.existsSync(path.join(root, dir, 'test', 'domain')),
    );
    expect(withDomainTests.length).toBeGreaterThan(0);
    expect(unitConfig.testMatch).toContain('<rootDir>/*/test/domain/**/*.test.ts');
    expect(unitConfig.testMatch).toContain('<rootDir>/contracts/test/**/*.test.ts');
  });

  test('when a test is serial or runs the whole system, then it is never named as a unit test', () => {
    expect(
      unitConfig.selection.unitFiles.filter((file) => /\.(serial|system)\.test\.ts$/.test(file)),
    ).toEqual([]);
  });
});

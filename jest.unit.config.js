// `npm run test:unit`: the tests that need no PostgreSQL, RabbitMQ, nginx or network, run
// straight through jest without preparing the system (`npm test` still runs everything).
//
// Selected by folder where the folder says it (every service's `test/domain/`, all of
// `contracts/test/`, infra's `test/config/`), and by name for pure tests that sit beside tests
// needing servers. infra/test-setup/unit.js refuses every socket, so a selected test that needs
// a server fails here, by name, instead of passing only where the servers happen to run. The
// strong check runs it where nothing listens at all (loopback up, no server):
//   unshare -rn sh -c 'ip link set lo up; npm run test:unit'
const fs = require('node:fs');
const path = require('node:path');
const base = require('./jest.config');

const unitFolders = ['*/test/domain/**', 'contracts/test/**', 'infra/test/config/**'];

// Pure tests outside those folders. scripts/test/unit-tests.test.ts fails when one is gone (a
// rename would otherwise drop it from this run in silence).
const unitFiles = [
  'brain-service/test/application/config.test.ts',
  'brain-service/test/application/session-observation.test.ts',
  'brain-service/test/devin/errors.test.ts',
  'brain-service/test/devin/retry.test.ts',
  'brain-service/test/devin/session-phase.test.ts',
  'infra/test/architecture/domain-purity.test.ts',
  'infra/test/auth/gateway-secret.test.ts',
  'infra/test/event-store/timestamps.test.ts',
  'infra/test/http/domain-problems.test.ts',
  'infra/test/http/readiness.test.ts',
  'infra/test/logging/logger.test.ts',
  'infra/test/messaging/checkpoint-pipeline.test.ts',
  'infra/test/messaging/failure-routing.test.ts',
  'infra/test/runtime/backoff.test.ts',
  'infra/test/runtime/liveness.test.ts',
  'infra/test/runtime/poll.test.ts',
  'infra/test/testing/eventually.test.ts',
  'payment-service/test/application/ttl-cache.test.ts',
  'payment-service/test/config.test.ts',
  'payment-service/test/http/pdf.test.ts',
  'payment-service/test/nowpayments/signature.test.ts',
  'scripts/test/architecture-doc.test.ts',
  'scripts/test/unit-tests.test.ts',
  'user-service/test/application/payment-notifications.test.ts',
  'user-service/test/application/transactions.test.ts',
  'user-service/test/application/usage-recorder.test.ts',
  'user-service/test/gateway-secret-config.test.ts',
];

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  displayName: 'unit',
  testMatch: [
    ...unitFolders.map((folder) => `<rootDir>/${folder}/*.test.ts`),
    ...unitFiles
      .filter((file) => fs.existsSync(path.join(__dirname, file)))
      .map((file) => `<rootDir>/${file}`),
  ],
  testPathIgnorePatterns: ['/node_modules/', '\\.(serial|system)\\.test\\.ts$'],
  setupFilesAfterEnv: [
    ...(base.setupFilesAfterEnv ?? []),
    path.join(__dirname, 'infra/test-setup/unit.js'),
  ],
  // Nothing here waits on a server, so every core runs tests (jest's default leaves one idle).
  maxWorkers: '100%',
  // A pure test that waits this long is waiting for something that is not there.
  testTimeout: 5000,
};
// Not jest options (jest warns on unknown keys): for scripts/test/unit-tests.test.ts only.
Object.defineProperty(module.exports, 'selection', { value: { unitFolders, unitFiles } });

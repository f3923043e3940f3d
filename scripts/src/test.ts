/**
 * `npm test`: prepares like `npm start` (servers answering), then runs every workspace's tests
 * against the real PostgreSQL and RabbitMQ in two phases: everything that can share the servers
 * in parallel, then one at a time the tests that disturb them (`*.serial.test.ts`: broker
 * restarts, killed processes) and those that run the whole system (`*.system.test.ts`: three
 * services, their sandboxes, nginx, each some forty PostgreSQL connections; side by side, and
 * beside a running `npm start`, they would exhaust the server's 100). Extra arguments go to
 * jest, e.g. `npm test -- payment-service`.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '@meetmatt/infra';
import { prepareSystem } from './lib/prepare';
import { repoRoot } from './lib/processes';
import { loadSystemConfig } from './lib/system-config';
import { fillVhostPool } from './lib/vhost-pool';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** About what a whole run claims (a vhost per world); unclaimed ones wait for the next run. */
const VHOST_POOL_SIZE = 120;

function jest(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const bin = path.join(repoRoot, 'node_modules', 'jest', 'bin', 'jest.js');
  const result = spawnSync(
    process.execPath,
    [bin, '--config', path.join(repoRoot, 'jest.config.js'), ...args],
    {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, ...env, FORCE_COLOR: process.env.CI ? '0' : '1' },
    },
  );
  return result.status ?? 1;
}

async function main(): Promise<void> {
  const system = loadSystemConfig();
  await prepareSystem(system, log);
  const extra = process.argv.slice(2);
  const workers = process.env.TEST_WORKERS ?? '3';

  if (!process.env.EVENTSTORE_TEST_URL) {
    log(
      'EventStoreDB contract run not made: EVENTSTORE_TEST_URL is unset (docker compose up -d eventstore gives one)',
    );
  }
  const pool = await fillVhostPool(
    process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    VHOST_POOL_SIZE,
    log,
  );
  const env = pool ? { TEST_VHOST_POOL: pool } : {};
  log('== phase 1: tests that share the servers (parallel)');
  const parallel = jest(
    [
      `--maxWorkers=${workers}`,
      '--testPathIgnorePatterns',
      '/node_modules/',
      '\\.(serial|system)\\.test\\.ts$',
      ...(process.env.EVENTSTORE_TEST_URL ? [] : ['esdb\\.contract\\.test\\.ts$']),
      '--passWithNoTests',
      ...extra,
    ],
    env,
  );
  log('== phase 2: tests that disturb the servers or run the whole system (one at a time)');
  const serial = jest(
    [
      '--runInBand',
      '--testMatch',
      '**/*.serial.test.ts',
      '**/*.system.test.ts',
      '--passWithNoTests',
      ...extra,
    ],
    env,
  );
  process.exit(parallel || serial);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log(error.message);
  else log(`npm test failed: ${(error as Error).message}`);
  process.exit(1);
});

import { type ServiceKey } from '@meetmatt/contracts';
import { createDatabase, ensureDatabase, migrateAll } from '@meetmatt/infra';
import { migrations as paymentMigrations } from '@meetmatt/payment-service/migrations';
import { migrations as userMigrations } from '@meetmatt/user-service/migrations';
import { migrations as brainMigrations } from '@meetmatt/brain-service/migrations';
import { ensureDependencies } from './dependencies';
import {
  ensurePostgresAccount,
  ensureRabbitmqAccounts,
  localServiceAccounts,
  recreateOldLayoutQueues,
} from './service-accounts';
import { type SystemConfig, serviceDatabaseUrl, serviceKeys } from './system-config';

const migrationsOf = {
  payment: paymentMigrations,
  user: userMigrations,
  brain: brainMigrations,
} as const;

/** Creates and migrates one service's database. */
export async function prepareDatabase(key: ServiceKey, url: string): Promise<void> {
  await ensureDatabase(url);
  const database = createDatabase({ url, max: 1 });
  try {
    await migrateAll(database.db, migrationsOf[key]);
  } finally {
    await database.close();
  }
}

/**
 * The services' own accounts: a PostgreSQL role each that owns its database (and nothing else),
 * and a RabbitMQ user each that may write only to its own exchange and queues. Idempotent.
 */
export async function prepareServiceAccounts(
  system: SystemConfig,
  log: (line: string) => void,
): Promise<void> {
  const accounts = localServiceAccounts();
  const rabbitmq = async () => {
    try {
      // rabbitmqctl takes a second or more: the old-layout check (plain AMQP) goes beside it.
      await Promise.all([
        ensureRabbitmqAccounts(system.RABBITMQ_URL, accounts, system.RABBITMQ_MANAGEMENT_URL),
        recreateOldLayoutQueues(system.RABBITMQ_URL, log),
      ]);
    } catch (error) {
      throw new Error(
        [
          `Could not create the services' RabbitMQ users: ${(error as Error).message}`,
          'npm start makes them with the local rabbitmqctl, or with the management API at',
          'RABBITMQ_MANAGEMENT_URL (e.g. http://guest:guest@127.0.0.1:15672). Set one of them, or',
          'SERVICE_ACCOUNTS=shared to run every service as the RABBITMQ_URL user (development only).',
        ].join('\n'),
      );
    }
  };
  await Promise.all([
    rabbitmq(),
    ...serviceKeys.map((key) =>
      ensurePostgresAccount(
        system.POSTGRES_URL,
        serviceDatabaseUrl(system, key),
        accounts[key].postgres,
      ),
    ),
  ]);
}

/** What `npm start` and `npm test` both need first: the servers up, the databases made and migrated. */
export async function prepareSystem(
  system: SystemConfig,
  log: (line: string) => void,
): Promise<void> {
  await ensureDependencies(system.POSTGRES_URL, system.RABBITMQ_URL, log);
  for (const key of serviceKeys) await prepareDatabase(key, serviceDatabaseUrl(system, key));
  if (system.SERVICE_ACCOUNTS === 'own') await prepareServiceAccounts(system, log);
}

import { type ServiceKey } from '@meetmatt/contracts';
import { createDatabase, ensureDatabase, migrateAll } from '@meetmatt/infra';
import { migrations as paymentMigrations } from '@meetmatt/payment-service/migrations';
import { migrations as userMigrations } from '@meetmatt/user-service/migrations';
import { migrations as brainMigrations } from '@meetmatt/brain-service/migrations';
import { ensureDependencies } from './dependencies';
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

/** What `npm start` and `npm test` both need first: the servers up, the databases made and migrated. */
export async function prepareSystem(
  system: SystemConfig,
  log: (line: string) => void,
): Promise<void> {
  await ensureDependencies(system.POSTGRES_URL, system.RABBITMQ_URL, log);
  for (const key of serviceKeys) await prepareDatabase(key, serviceDatabaseUrl(system, key));
}

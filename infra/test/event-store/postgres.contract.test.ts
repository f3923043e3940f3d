import { PostgresEventStore, createDatabase, migrateAll } from '@meetmatt/infra';
import { createTestDatabase } from '@meetmatt/infra/testing';
import { describeEventStoreContract } from './contract';

describeEventStoreContract('PostgreSQL', async () => {
  const testDb = await createTestDatabase('es');
  const database = createDatabase({ url: testDb.url, max: 12 });
  const otherDatabase = createDatabase({ url: testDb.url, max: 4 });
  await migrateAll(database.db, {});
  const store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
  const other = new PostgresEventStore({ pool: otherDatabase.pool, connectionString: testDb.url });
  return {
    store,
    other,
    async close() {
      await store.close();
      await other.close();
      await database.close();
      await otherDatabase.close();
      await testDb.drop();
    },
  };
});

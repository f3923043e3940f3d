import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  type Database,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';

const event = () => ({
  type: 'horizon.tested',
  data: {},
  metadata: { correlationId: 'h', causationId: 'h', schemaVersion: 1 },
});

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Which open transactions hold a reader of `$all` back: only this database's. */
describe('PostgreSQL event store: the visibility horizon', () => {
  let ours: TestDatabase;
  let elsewhere: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    [ours, elsewhere] = await Promise.all([
      createTestDatabase('horizon'),
      createTestDatabase('elsewhere'),
    ]);
    database = createDatabase({ url: ours.url });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: ours.url });
  });
  afterAll(async () => {
    await store.close();
    await database.close();
    await Promise.all([ours.drop(), elsewhere.drop()]);
  });

  async function openTransaction(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query('SELECT pg_current_xact_id()'); // takes an xid, as any write would
    return client;
  }

  test('when a transaction stays open in another database, then subscribers here are not held back', async () => {
    const other = await openTransaction(elsewhere.url);
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({
      from: 'end',
      onEvents: async (events) => void received.push(...events),
    });
    try {
      await store.appendToStream(`horizon-${randomUUID()}`, [event()], {
        expectedRevision: 'no_stream',
      });
      expect(await until(() => received.length === 1, 2_000)).toBe(true);
    } finally {
      await subscription.stop();
      await other.query('ROLLBACK');
      await other.end();
    }
  });

  test('when a transaction stays open in this database, then later commits wait for it, and arrive once it ends', async () => {
    const mine = await openTransaction(ours.url);
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({
      from: 'end',
      onEvents: async (events) => void received.push(...events),
    });
    try {
      await store.appendToStream(`horizon-${randomUUID()}`, [event()], {
        expectedRevision: 'no_stream',
      });
      // it might precede the open transaction's events in $all, so it waits
      expect(await until(() => received.length > 0, 500)).toBe(false);
      await mine.query('ROLLBACK');
      expect(await until(() => received.length === 1, 2_000)).toBe(true);
    } finally {
      await subscription.stop();
      await mine.end();
    }
  });
});

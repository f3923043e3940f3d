import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  type Database,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase, eventually } from '@meetmatt/infra/testing';

const event = () => ({
  type: 'horizon.tested',
  data: {},
  metadata: { correlationId: 'h', causationId: 'h', schemaVersion: 1 },
});

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
      await eventually('received.length === 1', () => received.length === 1, 2_000);
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
      await expect(eventually('no event yet', () => received.length > 0, 500)).rejects.toThrow(
        'timed out',
      );
      await mine.query('ROLLBACK');
      await eventually('received.length === 1', () => received.length === 1, 2_000);
    } finally {
      await subscription.stop();
      await mine.end();
    }
  });
});

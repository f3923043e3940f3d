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

/** Which open transactions hold a reader of `$all` back: only those that appended, here. */
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

  /** A live subscriber to this test's events, and what it has received. */
  function subscriber() {
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({
      from: 'end',
      filter: { eventTypes: ['horizon.tested'] },
      onEvents: async (events) => void received.push(...events),
    });
    return { received, subscription };
  }

  /** One event of this test's type on a stream of its own, appended through the pool. */
  const appendOne = () =>
    store.appendToStream(`horizon-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });

  test('when a transaction stays open in another database, then subscribers here are not held back', async () => {
    const other = await openTransaction(elsewhere.url);
    const { received, subscription } = subscriber();
    try {
      await appendOne();
      await eventually('received.length === 1', () => received.length === 1, 2_000);
    } finally {
      await subscription.stop();
      await other.query('ROLLBACK');
      await other.end();
    }
  });

  test('when a transaction that appended stays open in this database, then later commits wait for it, and arrive once it ends', async () => {
    const mine = new pg.Client({ connectionString: ours.url });
    await mine.connect();
    await mine.query('BEGIN');
    await store.appendWith(mine, `horizon-open-${randomUUID()}`, [event()], 'no_stream');
    const { received, subscription } = subscriber();
    try {
      await appendOne();
      // it might follow the open transaction's events in $all, so it waits
      await expect(eventually('no event yet', () => received.length > 0, 500)).rejects.toThrow(
        'timed out',
      );
      await mine.query('COMMIT');
      await eventually('received.length === 2', () => received.length === 2, 2_000);
    } finally {
      await subscription.stop();
      await mine.end();
    }
  });

  test('when a transaction that wrote elsewhere in this database stays open, then subscribers are not held back, and it may not append', async () => {
    // What a projection's batch, the inbox or the outbox is: a transaction with an id, no append.
    await database.pool.query('CREATE TABLE IF NOT EXISTS horizon_other (n int)');
    const mine = await openTransaction(ours.url);
    await mine.query('INSERT INTO horizon_other VALUES (1)');
    const { received, subscription } = subscriber();
    try {
      await appendOne();
      await eventually('received.length === 1', () => received.length === 1, 2_000);
      expect(await store.readAll({ filter: { eventTypes: ['horizon.tested'] } })).not.toEqual([]);
      // Had it appended now, its events would sit below what readers have passed: refused.
      const late = `horizon-late-${randomUUID()}`;
      await expect(store.appendWith(mine, late, [event()], 'no_stream')).rejects.toThrow(
        'append first in a transaction',
      );
      await mine.query('COMMIT');
      expect(await store.streamExists(late)).toBe(false);
    } finally {
      await subscription.stop();
      await mine.end();
    }
  });
});

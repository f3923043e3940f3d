import { randomUUID } from 'node:crypto';
import {
  type Database,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

const event = () => ({
  type: 'wakeup.tested',
  data: {},
  metadata: { correlationId: 'w', causationId: 'w', schemaVersion: 1 },
});

describe('PostgreSQL event store: live delivery', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('wake');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
    // A long polling fallback, so only a notification can explain a prompt delivery.
    store = new PostgresEventStore({
      pool: database.pool,
      connectionString: testDb.url,
      pollIntervalMs: 10_000,
    });
  });
  afterAll(async () => {
    await store.close();
    await database.close();
    await testDb.drop();
  });

  test('when an event is appended while the subscriber is busy with the previous one, then it still arrives at once', async () => {
    const stream = `wake-${randomUUID()}`;
    const received: RecordedEvent[] = [];
    let appendedSecondAt = 0;
    let live!: () => void;
    const caughtUp = new Promise<void>((resolve) => (live = resolve));
    const subscription = store.subscribeToAll({
      from: 'end',
      onCaughtUp: () => live(),
      onEvents: async (events) => {
        received.push(...events);
        if (received.length === 1) {
          // the second append lands while this handler is still running
          await store.appendToStream(stream, [event()], { expectedRevision: 0 });
          appendedSecondAt = Date.now();
          await sleep(100);
        }
      },
    });
    try {
      await caughtUp;
      await store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
      await pollUntil(() => received.length >= 2, { timeoutMs: 5_000, intervalMs: 5 });
      expect(received).toHaveLength(2);
      expect(Date.now() - appendedSecondAt).toBeLessThan(1_000);
    } finally {
      await subscription.stop();
    }
  });
});

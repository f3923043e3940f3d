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
import { sleep } from '@meetmatt/infra/runtime/backoff';

const event = () => ({
  type: 'listen.tested',
  data: {},
  metadata: { correlationId: 'l', causationId: 'l', schemaVersion: 1 },
});

async function listeners(url: string): Promise<number[]> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
    );
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

/** Terminates every connection of the subscriber's side (its pool and its LISTEN connection). */
async function terminateSubscriberSide(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND application_name <> 'writer'`,
    );
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL event store: LISTEN under database faults', () => {
  let testDb: TestDatabase;
  let subscriberDb: Database;
  let writerDb: Database;
  let subscriberStore: PostgresEventStore;
  let writerStore: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('listenfault');
    subscriberDb = createDatabase({ url: testDb.url, applicationName: 'subscriber' });
    writerDb = createDatabase({ url: testDb.url, applicationName: 'writer' });
    await migrateAll(subscriberDb.db, {});
    // A long polling fallback: only a notification explains a prompt delivery. The writer is
    // another process as far as the subscriber knows: it wakes it through NOTIFY alone.
    subscriberStore = new PostgresEventStore({
      pool: subscriberDb.pool,
      connectionString: testDb.url,
      pollIntervalMs: 30_000,
    });
    writerStore = new PostgresEventStore({ pool: writerDb.pool, pollIntervalMs: 30_000 });
  });
  afterAll(async () => {
    await subscriberStore.close();
    await writerStore.close();
    await subscriberDb.close();
    await writerDb.close();
    await testDb.drop();
  });

  test('when the LISTEN connection (and the pool) are terminated, then the subscriber still gets new events promptly', async () => {
    const stream = `listen-${randomUUID()}`;
    const received: RecordedEvent[] = [];
    let live!: () => void;
    const caughtUp = new Promise<void>((resolve) => (live = resolve));
    const subscription = subscriberStore.subscribeToAll({
      from: 'end',
      onCaughtUp: () => live(),
      onEvents: async (events) => {
        received.push(...events.filter((e) => e.streamId === stream));
      },
    });
    try {
      await caughtUp;
      const before = await eventually(
        'the subscription listening',
        async () => {
          const pids = await listeners(testDb.url);
          expect(pids).toHaveLength(1);
          return pids;
        },
        5_000,
      );

      await terminateSubscriberSide(testDb.url);
      await eventually(
        'the subscription listening again, on a new connection',
        async () => {
          const pids = await listeners(testDb.url);
          expect(pids).toHaveLength(1);
          expect(pids[0]).not.toBe(before[0]);
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      // Let the subscription's own reads come back from the terminated pool too.
      await sleep(1_500);
      const appendedAt = Date.now();
      await writerStore.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
      await eventually('received.length === 1', () => received.length === 1, 10_000);
      expect(Date.now() - appendedAt).toBeLessThan(3_000);
    } finally {
      await subscription.stop();
    }
  });
});

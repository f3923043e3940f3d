import { randomUUID } from 'node:crypto';
import {
  type Database,
  PostgresEventStore,
  type RecordedEvent,
  comparePositions,
  createDatabase,
  migrateAll,
  sleep,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

/**
 * The reason the PostgreSQL store orders `$all` by (transaction id, position): positions are
 * handed out at insert, visibility comes at commit. Writers here hold their transactions open
 * for random pauses (so later positions often commit first) and roll some back; a live
 * subscriber must receive every committed event exactly once, in order, and no rolled-back one.
 *
 * LATE_COMMIT_EVENTS raises the size and LATE_COMMIT_ROUNDS repeats it (the suite's version runs
 * in seconds; while developing: LATE_COMMIT_ROUNDS=50 npm test -- late-commit).
 */
const WRITERS = 8;
const EVENTS = Number(process.env.LATE_COMMIT_EVENTS ?? 2_400);
const ROUNDS = Number(process.env.LATE_COMMIT_ROUNDS ?? 1);

describe('PostgreSQL event store: late commits', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('late');
    database = createDatabase({ url: testDb.url, max: WRITERS + 4 });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.close();
    await testDb?.drop();
  });

  async function writer(
    index: number,
    count: number,
    committed: Set<string>,
    rolledBack: Set<string>,
  ): Promise<void> {
    let written = 0;
    while (written < count) {
      const client = await database.pool.connect();
      try {
        await client.query('BEGIN');
        const ids: string[] = [];
        const appends = 1 + Math.floor(Math.random() * 3);
        for (let a = 0; a < appends && written + ids.length < count; a++) {
          const batch = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
            id: randomUUID(),
            type: 'late.written',
            data: { writer: index },
            metadata: { correlationId: 'late', causationId: 'late', schemaVersion: 1 },
          }));
          await store.appendWith(
            client,
            `late-${index}-${Math.floor(Math.random() * 20)}`,
            batch,
            'any',
          );
          ids.push(...batch.map((e) => e.id));
          if (Math.random() < 0.5) await sleep(Math.random() * 12);
        }
        if (Math.random() < 0.12) {
          await client.query('ROLLBACK');
          ids.forEach((id) => rolledBack.add(id));
        } else {
          await client.query('COMMIT');
          ids.forEach((id) => committed.add(id));
          written += ids.length;
          store.notifier.appended();
        }
      } finally {
        client.release();
      }
    }
  }

  test(
    `when ${WRITERS} writers commit late and roll back, then a live subscriber gets every committed event exactly once`,
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const received: RecordedEvent[] = [];
        const committed = new Set<string>();
        const rolledBack = new Set<string>();
        let live!: () => void;
        const caughtUp = new Promise<void>((resolve) => (live = resolve));
        const subscription = store.subscribeToAll({
          from: 'end',
          filter: { eventTypes: ['late.written'] },
          batchSize: 100,
          onEvents: async (events) => {
            received.push(...events);
          },
          onCaughtUp: () => live(),
        });
        try {
          // Events committed before the subscription has settled on its starting point are history, not live.
          await caughtUp;
          await Promise.all(
            Array.from({ length: WRITERS }, (_, i) =>
              writer(i, Math.ceil(EVENTS / WRITERS), committed, rolledBack),
            ),
          );
          await pollUntil(() => received.length >= committed.size, { timeoutMs: 15_000 });
          // a little longer, to catch a duplicate delivered after the last expected event
          await sleep(100);
        } finally {
          await subscription.stop();
        }
        const ids = received.map((e) => e.id);
        const unique = new Set(ids);
        expect(unique.size).toBe(ids.length); // never twice
        expect([...committed].filter((id) => !unique.has(id))).toEqual([]); // never skipped
        expect(ids.filter((id) => rolledBack.has(id))).toEqual([]); // never a rolled-back one
        expect(ids.length).toBe(committed.size);
        for (let i = 1; i < received.length; i++) {
          expect(comparePositions(received[i - 1]!.position, received[i]!.position)).toBe(-1);
        }
        // the scenario happened: some events became visible after events with higher positions
        const outOfOrder = received.some(
          (e, i) => i > 0 && e.position.prepare < received[i - 1]!.position.prepare,
        );
        expect(outOfOrder).toBe(true);
        expect(rolledBack.size).toBeGreaterThan(0);
      }
    },
    60_000 * ROUNDS,
  );

  test('when a transaction that appended is still open, then readAll stops before its events and returns them once it commits', async () => {
    const type = `late.read-all-${randomUUID()}`;
    const event = (n: number) => ({
      id: randomUUID(),
      type,
      data: { n },
      metadata: { correlationId: 'late', causationId: 'late', schemaVersion: 1 },
    });
    const open = await database.pool.connect();
    try {
      await open.query('BEGIN');
      await store.appendWith(open, `late-open-${randomUUID()}`, [event(1)], 'any');
      // Appended and committed after the open one: a higher transaction id, visible at once.
      await store.appendToStream(`late-after-${randomUUID()}`, [event(2)], {
        expectedRevision: 'any',
      });
      const filter = { eventTypes: [type] };
      expect(await store.readAll({ filter })).toEqual([]);
      await open.query('COMMIT');
      const read = await store.readAll({ filter });
      expect(read.map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
      expect(comparePositions(read[0]!.position, read[1]!.position)).toBe(-1);
    } finally {
      open.release();
    }
  });
});

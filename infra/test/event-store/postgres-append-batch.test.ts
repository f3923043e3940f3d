import { randomUUID } from 'node:crypto';
import {
  type Database,
  type NewEvent,
  PostgresEventStore,
  WrongExpectedRevisionError,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase, eventually } from '@meetmatt/infra/testing';

/**
 * Appends through the pool are batched while others are in flight (group commit). What a
 * caller sees must not change: each append keeps its own revision check, result and error.
 */
let testDb: TestDatabase;
let database: Database<unknown>;
let store: PostgresEventStore;

beforeAll(async () => {
  testDb = await createTestDatabase('es_batch');
  database = createDatabase({ url: testDb.url, max: 8 });
  await migrateAll(database.db, {});
  // One statement at a time, so concurrent appends have to share statements.
  store = new PostgresEventStore({ pool: database.pool, appendConcurrency: 1 });
});

afterAll(async () => {
  await store.close();
  await database.close();
  await testDb.drop();
});

function events(n: number, tag: string): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'thing.happened',
    data: { tag, i },
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  }));
}

async function transactionsOf(prefix: string): Promise<number> {
  const { rows } = await database.pool.query<{ n: number }>(
    'SELECT count(DISTINCT transaction_id)::int AS n FROM es_events WHERE starts_with(stream_id, $1)',
    [prefix],
  );
  return rows[0]!.n;
}

test('when forty appends to different streams arrive at once, then they share transactions and each gets its own revision and position', async () => {
  const prefix = `batch-${randomUUID()}-`;
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      store.appendToStream(`${prefix}${i}`, events(1 + (i % 3), `s${i}`), {
        expectedRevision: 'no_stream',
      }),
    ),
  );
  expect(await transactionsOf(prefix)).toBeLessThan(40);
  for (const [i, result] of results.entries()) {
    const stream = await store.readStream(`${prefix}${i}`);
    expect(stream.map((e) => e.revision)).toEqual([0, 1, 2].slice(0, 1 + (i % 3)));
    expect(stream.map((e) => (e.data as { tag: string }).tag)).toEqual(stream.map(() => `s${i}`));
    expect(result.nextExpectedRevision).toBe(i % 3);
    expect(result.position).toEqual(stream[stream.length - 1]!.position);
  }
});

test('when one append of a batch expects the wrong revision, then it alone fails, with the actual revision', async () => {
  const prefix = `batch-${randomUUID()}-`;
  await store.appendToStream(`${prefix}behind`, events(2, 'old'), {
    expectedRevision: 'no_stream',
  });
  const results = await Promise.allSettled([
    ...Array.from({ length: 10 }, (_, i) =>
      store.appendToStream(`${prefix}${i}`, events(1, 'new'), { expectedRevision: 'no_stream' }),
    ),
    store.appendToStream(`${prefix}behind`, events(1, 'late'), { expectedRevision: 0 }),
  ]);
  const failed = results.filter((r) => r.status === 'rejected');
  expect(failed).toHaveLength(1);
  const reason = (failed[0] as PromiseRejectedResult).reason as WrongExpectedRevisionError;
  expect(reason).toBeInstanceOf(WrongExpectedRevisionError);
  expect(reason.streamId).toBe(`${prefix}behind`);
  expect(reason.actual).toBe(1);
  expect(await store.readStream(`${prefix}behind`)).toHaveLength(2);
  for (let i = 0; i < 10; i++) expect(await store.readStream(`${prefix}${i}`)).toHaveLength(1);
});

test('when two appends to one stream arrive together, then they go one after the other and both land when their revisions follow', async () => {
  const stream = `batch-${randomUUID()}`;
  const [first, second] = await Promise.all([
    store.appendToStream(stream, events(1, 'a'), { expectedRevision: 'no_stream' }),
    store.appendToStream(stream, events(1, 'b'), { expectedRevision: 0 }),
    ...Array.from({ length: 5 }, () =>
      store.appendToStream(`batch-${randomUUID()}`, events(1, 'x'), { expectedRevision: 'any' }),
    ),
  ]);
  expect(first.nextExpectedRevision).toBe(0);
  expect(second.nextExpectedRevision).toBe(1);
  expect((await store.readStream(stream)).map((e) => (e.data as { tag: string }).tag)).toEqual([
    'a',
    'b',
  ]);
});

test('when an event id of a batch is already stored, then only its append fails and the others land', async () => {
  const prefix = `batch-${randomUUID()}-`;
  const [taken] = events(1, 'first');
  const id = randomUUID();
  await store.appendToStream(`${prefix}original`, [{ ...taken!, id }], {
    expectedRevision: 'no_stream',
  });
  const results = await Promise.allSettled([
    ...Array.from({ length: 8 }, (_, i) =>
      store.appendToStream(`${prefix}${i}`, events(1, 'ok'), { expectedRevision: 'no_stream' }),
    ),
    store.appendToStream(`${prefix}copy`, [{ ...taken!, id }], { expectedRevision: 'no_stream' }),
  ]);
  expect(results.slice(0, 8).every((r) => r.status === 'fulfilled')).toBe(true);
  expect(results[8]!.status).toBe('rejected');
  expect(await store.streamExists(`${prefix}copy`)).toBe(false);
  for (let i = 0; i < 8; i++) expect(await store.streamExists(`${prefix}${i}`)).toBe(true);
});

test('when another writer takes a revision a batch expected, then the batch is retried append by append and only the loser fails', async () => {
  const prefix = `batch-${randomUUID()}-`;
  const contested = `${prefix}contested`;
  await store.appendToStream(contested, events(1, 'start'), { expectedRevision: 'no_stream' });
  // A transaction of another writer holds revision 1 of the contested stream while the batch
  // (which reads revision 0 as the last) is sent; it commits first, so the batch's insert of
  // revision 1 fails on the unique constraint.
  const other = await database.pool.connect();
  try {
    await other.query('BEGIN');
    await store.appendWith(other, contested, events(1, 'other'), 0);
    const batch = Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) =>
        store.appendToStream(`${prefix}${i}`, events(1, 'ok'), { expectedRevision: 'no_stream' }),
      ),
      store.appendToStream(contested, events(1, 'batch'), { expectedRevision: 0 }),
    ]);
    await waitForLockWait(database);
    await other.query('COMMIT');
    const results = await batch;
    expect(results.slice(0, 6).every((r) => r.status === 'fulfilled')).toBe(true);
    const lost = results[6] as PromiseRejectedResult;
    expect(lost.status).toBe('rejected');
    expect(lost.reason).toBeInstanceOf(WrongExpectedRevisionError);
    expect((lost.reason as WrongExpectedRevisionError).actual).toBe(1);
  } finally {
    other.release();
  }
  expect((await store.readStream(contested)).map((e) => (e.data as { tag: string }).tag)).toEqual([
    'start',
    'other',
  ]);
  for (let i = 0; i < 6; i++) expect(await store.streamExists(`${prefix}${i}`)).toBe(true);
});

/** Until some statement waits on a lock (the batch blocked on the open transaction's row). */
async function waitForLockWait(db: Database<unknown>): Promise<void> {
  await eventually(
    'an append waiting for the open transaction',
    async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows[0]!.n > 0;
    },
    { timeoutMs: 10_000, intervalMs: 10 },
  );
}

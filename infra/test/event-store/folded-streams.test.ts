import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { defineEvent } from '@meetmatt/contracts';
import {
  type Database,
  EventCatalog,
  type EventStore,
  FoldedStreams,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  loadState,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { type CounterEvent, counter } from '../domain/counter';

const catalog = new EventCatalog<CounterEvent>([
  defineEvent('counter.opened', z.object({ name: z.string() }), { description: 'opened' }),
  defineEvent('counter.incremented', z.object({ by: z.number().int().positive() }), {
    description: 'incremented',
  }),
]);

describe('folded streams, kept up to date from their revisions (PostgreSQL)', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;
  /** Every event the store hands back, so a test can tell what a read cost. */
  let eventsRead: number;
  let counting: EventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('folded');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
    counting = Object.create(store) as EventStore;
    counting.readStream = async (...args: Parameters<EventStore['readStream']>) => {
      const events: RecordedEvent[] = await store.readStream(...args);
      eventsRead += events.length;
      return events;
    };
  });
  afterAll(async () => {
    await store.close();
    await database.close();
    await testDb.drop();
  });

  const append = (streamId: string, events: CounterEvent[], correlationId = 'journey') =>
    store.appendToStream(
      streamId,
      events.map((e) => catalog.toNew(e, { correlationId, causationId: correlationId })),
      { expectedRevision: 'any' },
    );
  const by = (n: number): CounterEvent => ({ type: 'counter.incremented', data: { by: n } });

  test('when a stream grows between reads, then each read is the whole stream folded, but only the new events are fetched', async () => {
    const streams = new FoldedStreams({ store: counting, catalog, decider: counter });
    const id = `counter-${randomUUID()}`;
    await append(id, [{ type: 'counter.opened', data: { name: 'a' } }, by(2), by(3)], 'first');
    eventsRead = 0;
    const first = await streams.read(id);
    expect(eventsRead).toBe(3);
    await append(id, [by(4)], 'later');
    eventsRead = 0;
    const second = await streams.read(id);
    expect(eventsRead).toBe(1);
    const whole = await loadState(store, catalog, counter, id);
    expect(second).toEqual({
      state: whole.state,
      revision: whole.revision,
      correlationId: 'first',
      lastEventId: whole.lastEventId,
      position: whole.position,
    });
    expect(first.state).toEqual({ name: 'a', value: 5 });
    expect(second.state).toEqual({ name: 'a', value: 9 });
    eventsRead = 0;
    expect(await streams.read(id)).toEqual(second);
    expect(eventsRead).toBe(0);
  });

  test('when a stream does not exist, then the read is the initial state at revision -1, and it is read whole once it does', async () => {
    const streams = new FoldedStreams({ store: counting, catalog, decider: counter });
    const id = `counter-${randomUUID()}`;
    expect(await streams.read(id)).toEqual({
      state: { value: 0 },
      revision: -1,
      correlationId: undefined,
      lastEventId: undefined,
    });
    await append(id, [{ type: 'counter.opened', data: { name: 'b' } }]);
    expect((await streams.read(id)).state).toEqual({ name: 'b', value: 0 });
  });

  test('when more streams are read than it keeps, then the least recently read is read whole again, and right', async () => {
    const streams = new FoldedStreams({ store: counting, catalog, decider: counter, size: 2 });
    const ids = [1, 2, 3].map(() => `counter-${randomUUID()}`);
    for (const id of ids) await append(id, [{ type: 'counter.opened', data: { name: id } }, by(1)]);
    for (const id of ids) await streams.read(id);
    eventsRead = 0;
    await streams.read(ids[2]!);
    expect(eventsRead).toBe(0);
    await streams.read(ids[0]!);
    expect(eventsRead).toBe(2);
  });

  test('when reads of one stream overlap appends, then every read is a state the stream was at, and the last is the newest', async () => {
    const streams = new FoldedStreams({ store, catalog, decider: counter });
    const id = `counter-${randomUUID()}`;
    await append(id, [{ type: 'counter.opened', data: { name: 'c' } }]);
    const reads = await Promise.all(
      Array.from({ length: 20 }, async () => {
        await append(id, [by(1)]);
        return streams.read(id).then((r) => [r.revision, r.state.value] as const);
      }),
    );
    // At revision r the counter has had r increments (revision 0 is the opening).
    for (const [revision, value] of reads) expect(value).toBe(revision);
    expect(await streams.read(id)).toMatchObject({ revision: 20, state: { value: 20 } });
  });
});

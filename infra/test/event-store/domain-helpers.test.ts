import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type EventUnion, defineEvent } from '@meetmatt/contracts';
import {
  type Database,
  EventCatalog,
  EventValidationError,
  PostgresEventStore,
  createDatabase,
  handleCommand,
  loadState,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { type CounterCommand, type CounterEvent, counter } from '../domain/counter';

// The counter of the domain tests (pure, so without schemas), with its events' schemas: v2 of
// counter.incremented added `by`; v1 events (always +1) are upcast on read.
const counterEvents = {
  opened: defineEvent('counter.opened', z.object({ name: z.string() }), { description: 'opened' }),
  incremented: defineEvent('counter.incremented', z.object({ by: z.number().int().positive() }), {
    description: 'incremented',
    version: 2,
    upcasters: { 1: () => ({ by: 1 }) },
  }),
};
// The schemas describe exactly the counter's events: the type check fails when either changes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemasMatch: Same<EventUnion<typeof counterEvents>, CounterEvent> = true;
void schemasMatch;

const catalog = new EventCatalog<CounterEvent>(Object.values(counterEvents));
const metadata = { correlationId: 'c', causationId: 'c' };

describe('event catalog', () => {
  test('when data breaks its schema, then it is refused before it is stored', () => {
    expect(() =>
      catalog.toNew({ type: 'counter.incremented', data: { by: -1 } }, metadata),
    ).toThrow(EventValidationError);
  });

  test('when an old version is read, then it is upcast to the current shape', () => {
    const upcast = catalog.upcast({
      type: 'counter.incremented',
      data: {},
      metadata: { ...metadata, schemaVersion: 1 },
    });
    expect(upcast).toEqual({ by: 1 });
  });

  test('when appending, then the definition version is stamped on the metadata', () => {
    const event = catalog.toNew(
      { type: 'counter.incremented', data: { by: 3 } },
      { ...metadata, userId: undefined },
    );
    expect(event.metadata).toEqual({ correlationId: 'c', causationId: 'c', schemaVersion: 2 });
  });
});

describe('command handler against PostgreSQL', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('cmd');
    database = createDatabase({ url: testDb.url, max: 12 });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
  });
  afterAll(async () => {
    await store.close();
    await database.close();
    await testDb.drop();
  });

  const run = (streamId: string, command: CounterCommand) =>
    handleCommand({ store, catalog, decider: counter, streamId, command, metadata });

  test('when a command succeeds, then its events are appended with the revision that was read', async () => {
    const stream = `counter-${randomUUID()}`;
    const opened = await run(stream, { type: 'Open', data: { name: 'a' } });
    expect(opened).toMatchObject({ ok: true, revision: 0, state: { name: 'a', value: 0 } });
    const again = await run(stream, { type: 'Open', data: { name: 'a' } });
    expect(again).toMatchObject({ ok: true, events: [], revision: 0 });
    const refused = await run(`counter-${randomUUID()}`, {
      type: 'Increment',
      data: { by: 1, max: 5 },
    });
    expect(refused).toMatchObject({ ok: false, error: { code: 'counter-not-found' } });
  });

  test('when twenty commands race on one stream, then each is decided on the latest state and none is lost', async () => {
    const stream = `counter-${randomUUID()}`;
    await run(stream, { type: 'Open', data: { name: 'race' } });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        handleCommand({
          store,
          catalog,
          decider: counter,
          streamId: stream,
          command: { type: 'Increment', data: { by: 1, max: 15 } },
          metadata,
          maxAttempts: 30,
        }),
      ),
    );
    // the max is enforced against the real state, not a stale one
    expect(results.filter((r) => r.ok)).toHaveLength(15);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual(
      Array(5).fill('counter-full'),
    );
    const { state, revision } = await loadState(store, catalog, counter, stream);
    expect(state.value).toBe(15);
    expect(revision).toBe(15);
  });

  test('when a v1 event is stored, then loading upcasts it', async () => {
    const stream = `counter-${randomUUID()}`;
    await store.appendToStream(
      stream,
      [
        {
          type: 'counter.opened',
          data: { name: 'old' },
          metadata: { ...metadata, schemaVersion: 1 },
        },
        { type: 'counter.incremented', data: {}, metadata: { ...metadata, schemaVersion: 1 } },
      ],
      { expectedRevision: 'no_stream' },
    );
    const { state } = await loadState(store, catalog, counter, stream);
    expect(state).toEqual({ name: 'old', value: 1 });
  });
});

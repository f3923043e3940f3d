import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type EventUnion, defineEvent } from '@meetmatt/contracts';
import {
  type Database,
  type Decider,
  EventCatalog,
  type EventStore,
  type HandleCommandOptions,
  PostgresEventStore,
  STALE_REVISION,
  StateCache,
  createDatabase,
  domainError,
  handleCommand,
  loadState,
  migrateAll,
  requestContext,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';

// A tally that refuses to go over its limit: what a command decides depends on the state.
const tallyEvents = {
  opened: defineEvent('tally.opened', z.object({ limit: z.number().int() }), {
    description: 'opened',
  }),
  added: defineEvent('tally.added', z.object({ by: z.number().int(), note: z.string() }), {
    description: 'added',
  }),
};
type TallyEvent = EventUnion<typeof tallyEvents>;
type TallyCommand = { type: 'Open'; limit: number } | { type: 'Add'; by: number; note: string };
interface Tally {
  open: boolean;
  limit: number;
  total: number;
}

const tally: Decider<TallyCommand, TallyEvent, Tally> = {
  initialState: () => ({ open: false, limit: 0, total: 0 }),
  evolve: (state, event) =>
    event.type === 'tally.opened'
      ? { ...state, open: true, limit: event.data.limit }
      : { ...state, total: state.total + event.data.by },
  decide: (command, state) => {
    if (command.type === 'Open')
      return state.open ? [] : [{ type: 'tally.opened', data: { limit: command.limit } }];
    if (!state.open) return domainError('tally-not-found', 'open it first');
    if (state.total + command.by > state.limit) return domainError('tally-full', 'over the limit');
    return [{ type: 'tally.added', data: { by: command.by, note: command.note } }];
  },
};
const catalog = new EventCatalog<TallyEvent>(Object.values(tallyEvents));

describe('handleCommand: the one load → decide → append', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('handle');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
  });
  afterAll(async () => {
    await store.close();
    await database.close();
    await testDb.drop();
  });

  const cause = { correlationId: 'journey', causationId: 'request' };

  type Options = HandleCommandOptions<TallyCommand, TallyEvent, Tally>;
  /** handleCommand on the tally `streamId`, on the test's store unless another is given. */
  const handle = (
    streamId: string,
    options: Omit<Options, 'catalog' | 'decider' | 'streamId' | 'store'> & { store?: EventStore },
  ) => handleCommand({ store, catalog, decider: tally, streamId, ...options });

  async function openTally(limit = 10): Promise<string> {
    const streamId = `tally-${randomUUID()}`;
    const opened = await handle(streamId, {
      command: { type: 'Open', limit },
      metadata: cause,
    });
    expect(opened).toMatchObject({ ok: true, revision: 0 });
    return streamId;
  }

  /** The store, with another writer that appends `by` to the stream just before our next append(s). */
  function racedBy(
    streamId: string,
    times: number,
    by = 1,
  ): { store: EventStore; reads: () => number } {
    let left = times;
    let reads = 0;
    const raced: EventStore = Object.create(store) as EventStore;
    raced.readStream = (...args: Parameters<EventStore['readStream']>) => {
      reads += 1;
      return store.readStream(...args);
    };
    raced.appendToStream = async (...args: Parameters<EventStore['appendToStream']>) => {
      if (left > 0) {
        left -= 1;
        const { revision } = await loadState(store, catalog, tally, streamId);
        await store.appendToStream(
          streamId,
          [catalog.toNew({ type: 'tally.added', data: { by, note: 'other' } }, cause)],
          { expectedRevision: revision },
        );
      }
      return store.appendToStream(...args);
    };
    return { store: raced, reads: () => reads };
  }

  test('when another writer appends between the read and the append, then the command is decided again on the new state and appended', async () => {
    const streamId = await openTally(10);
    const raced = racedBy(streamId, 2);
    const seen: number[] = [];
    const result = await handle(streamId, {
      store: raced.store,
      // a function of the state: built again on each attempt, from the state it is decided on
      command: (state, revision): TallyCommand => {
        seen.push(revision);
        return { type: 'Add', by: 3, note: `after ${state.total}` };
      },
      metadata: cause,
    });
    expect(seen).toEqual([0, 1, 2]);
    expect(raced.reads()).toBe(3);
    expect(result).toMatchObject({
      ok: true,
      revision: 3,
      state: { total: 5 },
      events: [{ type: 'tally.added', data: { by: 3, note: 'after 2' } }],
    });
  });

  test('when the conflicts outlast the attempts, then the conflict is thrown after exactly that many', async () => {
    const streamId = await openTally(100);
    const raced = racedBy(streamId, 5);
    await expect(
      handle(streamId, {
        store: raced.store,
        command: { type: 'Add', by: 1, note: 'mine' },
        maxAttempts: 3,
      }),
    ).rejects.toThrow(/revision/i);
    expect(raced.reads()).toBe(3);
  });

  test('when a decision depends on the state, then a retry after a conflict can refuse what the first attempt allowed', async () => {
    const streamId = await openTally(5);
    const raced = racedBy(streamId, 1, 4);
    const result = await handle(streamId, {
      store: raced.store,
      command: { type: 'Add', by: 3, note: 'mine' },
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'tally-full' }, revision: 1 });
  });

  test('when If-Match names the revision read, then the command is appended; an older one is stale-revision and nothing is appended', async () => {
    const streamId = await openTally(10);
    const add = (expectedRevision: number) =>
      handle(streamId, {
        command: { type: 'Add', by: 1, note: 'if-match' },
        expectedRevision,
      });
    expect(await add(0)).toMatchObject({ ok: true, revision: 1 });
    const stale = await add(0);
    expect(stale).toMatchObject({
      ok: false,
      error: { code: STALE_REVISION, message: expect.stringContaining('revision 1') },
      revision: 1,
    });
    expect((await loadState(store, catalog, tally, streamId)).revision).toBe(1);
    // The head a caller waits for before answering 412, so the client's next read is current.
    const [head] = await store.readStream(streamId, { direction: 'backwards', maxCount: 1 });
    expect(stale).toMatchObject({ position: head!.position });
  });

  test('when another writer appends under If-Match, then stale-revision with the revision it is at, and no retry', async () => {
    const streamId = await openTally(10);
    const raced = racedBy(streamId, 1);
    let built = 0;
    const result = await handle(streamId, {
      store: raced.store,
      command: (): TallyCommand => {
        built += 1;
        return { type: 'Add', by: 1, note: 'if-match' };
      },
      expectedRevision: 0,
    });
    expect(result).toMatchObject({
      ok: false,
      error: { code: STALE_REVISION, message: expect.stringContaining('revision 1') },
    });
    expect(built).toBe(1);
    const events = await store.readStream(streamId);
    expect(events.map((e) => e.data)).toEqual([{ limit: 10 }, { by: 1, note: 'other' }]);
    expect(result).toMatchObject({ position: events[1]!.position });
  });

  test('when a command runs inside a request, then its events carry the request’s correlation and causation; given ones win, and the user only when named', async () => {
    const streamId = await openTally(10);
    await requestContext.run(
      { correlationId: 'req-corr', causationId: 'req-cause', userId: 'u-context' },
      async () => {
        await handle(streamId, {
          command: { type: 'Add', by: 1, note: 'request' },
        });
        await handle(streamId, {
          command: { type: 'Add', by: 1, note: 'message' },
          metadata: { causationId: 'message-id', userId: 'u-1' },
        });
      },
    );
    await handle(streamId, {
      command: { type: 'Add', by: 1, note: 'no context' },
    });
    const [, request, message, alone] = await store.readStream(streamId);
    expect(request!.metadata).toEqual({
      correlationId: 'req-corr',
      causationId: 'req-cause',
      schemaVersion: 1,
    });
    expect(message!.metadata).toEqual({
      correlationId: 'req-corr',
      causationId: 'message-id',
      userId: 'u-1',
      schemaVersion: 1,
    });
    // a new journey: its own correlation id, which is also its cause
    expect(alone!.metadata.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(alone!.metadata.causationId).toBe(alone!.metadata.correlationId);
  });

  test('when a stamp is given, then each event is stamped from the state it leads to, the stream’s journey and the event', async () => {
    const streamId = await openTally(10);
    await handle(streamId, {
      command: { type: 'Add', by: 2, note: 'stamped' },
      metadata: { correlationId: 'other-journey', causationId: 'c' },
      stamp: (metadata, { state, correlationId }, event) => ({
        ...metadata,
        correlationId: correlationId ?? metadata.correlationId,
        userId: `total-${state.total}-${event.type}`,
      }),
    });
    const [, stamped] = await store.readStream(streamId);
    expect(stamped!.metadata).toMatchObject({
      correlationId: 'journey',
      causationId: 'c',
      userId: 'total-2-tally.added',
    });
  });

  test('when a cache holds the stream, then the command decides without reading it; a stale entry conflicts, is read again and decided on the new state', async () => {
    const streamId = await openTally(10);
    const cache = new StateCache<Tally>({ size: 10 });
    const counted = racedBy(streamId, 0);
    const add = (by: number, on: EventStore = counted.store) =>
      handle(streamId, {
        store: on,
        command: { type: 'Add', by, note: 'cached' },
        cache,
      });
    expect(await add(1)).toMatchObject({ ok: true, revision: 1 });
    expect(counted.reads()).toBe(1);
    expect(await add(1)).toMatchObject({ ok: true, revision: 2, state: { total: 2 } });
    expect(counted.reads()).toBe(1); // decided from the cache

    // another instance appends: the cached state is behind
    await store.appendToStream(
      streamId,
      [catalog.toNew({ type: 'tally.added', data: { by: 5, note: 'elsewhere' } }, cause)],
      { expectedRevision: 2 },
    );
    expect(await add(1)).toMatchObject({ ok: true, revision: 4, state: { total: 8 } });
    expect(counted.reads()).toBe(2);

    // a refusal decided on a cached state is decided again on a fresh read
    await store.appendToStream(
      streamId,
      [catalog.toNew({ type: 'tally.added', data: { by: -8, note: 'elsewhere' } }, cause)],
      { expectedRevision: 4 },
    );
    expect(await add(5)).toMatchObject({ ok: true, revision: 6, state: { total: 5 } });
    expect(counted.reads()).toBe(3);
  });

  test('when a loader is given, then the state comes from it on every attempt, not from folding the stream', async () => {
    const streamId = await openTally(10);
    const raced = racedBy(streamId, 1);
    let loads = 0;
    const result = await handle(streamId, {
      store: raced.store,
      command: { type: 'Add', by: 1, note: 'loaded' },
      load: async (id) => {
        loads += 1;
        const { state, revision } = await loadState(store, catalog, tally, id);
        return { state: { ...state, limit: 100 }, revision, correlationId: undefined };
      },
    });
    expect(loads).toBe(2);
    expect(raced.reads()).toBe(0);
    expect(result).toMatchObject({ ok: true, revision: 2, state: { limit: 100, total: 2 } });
  });
});

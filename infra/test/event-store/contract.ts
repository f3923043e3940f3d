import { randomUUID } from 'node:crypto';
import {
  type EventStore,
  type NewEvent,
  type Position,
  type RecordedEvent,
  type Subscription,
  WrongExpectedRevisionError,
  comparePositions,
} from '@meetmatt/infra';
import { eventually } from '@meetmatt/infra/testing';

export interface ContractFixture {
  store: EventStore;
  /** A second handle on the same store (another process, as far as the store can tell). */
  other?: EventStore;
  close(): Promise<void>;
}

function event(
  type: string,
  data: unknown = {},
  metadata: Partial<NewEvent['metadata']> = {},
): NewEvent {
  return {
    type,
    data,
    metadata: {
      correlationId: randomUUID(),
      causationId: randomUUID(),
      schemaVersion: 1,
      ...metadata,
    },
  };
}

function events(n: number, type = 'thing.happened'): NewEvent[] {
  return Array.from({ length: n }, (_, i) => event(type, { i }));
}

function collect(
  store: EventStore,
  from: Position | 'end',
  prefix: string,
  extra: { eventTypes?: string[] } = {},
): {
  received: RecordedEvent[];
  caughtUp: () => boolean;
  checkpoints: Position[];
  subscription: Subscription;
} {
  const received: RecordedEvent[] = [];
  const checkpoints: Position[] = [];
  let caughtUp = false;
  const subscription = store.subscribeToAll({
    from,
    filter: { streamPrefixes: [prefix], ...extra },
    batchSize: 7,
    onEvents: async (batch) => {
      received.push(...batch);
    },
    onCaughtUp: () => {
      caughtUp = true;
    },
    onCheckpoint: (position) => {
      checkpoints.push(position);
    },
  });
  return { received, caughtUp: () => caughtUp, checkpoints, subscription };
}

/**
 * The contract every event-store adapter passes. Each test writes to streams with its own
 * random prefix, so tests share one store without seeing each other.
 */
export function describeEventStoreContract(
  name: string,
  setup: () => Promise<ContractFixture>,
): void {
  describe(`event store contract: ${name}`, () => {
    let fixture: ContractFixture;
    let store: EventStore;
    let prefix: string;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture?.close();
    });
    beforeEach(() => {
      prefix = `t${randomUUID().slice(0, 8)}-`;
    });

    describe('append', () => {
      test('when appending to a new stream with no_stream, then revisions start at 0 and a second no_stream conflicts', async () => {
        const stream = `${prefix}a`;
        const first = await store.appendToStream(stream, events(3), {
          expectedRevision: 'no_stream',
        });
        expect(first.nextExpectedRevision).toBe(2);
        const error = await store
          .appendToStream(stream, events(1), { expectedRevision: 'no_stream' })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(error).toMatchObject({ streamId: stream, expected: 'no_stream', actual: 2 });
        expect(await store.readStream(stream)).toHaveLength(3);
      });

      test('when appending at the exact revision, then it succeeds; at a stale one, then the conflict names both revisions', async () => {
        const stream = `${prefix}b`;
        await store.appendToStream(stream, events(2), { expectedRevision: 'no_stream' });
        const next = await store.appendToStream(stream, events(1), { expectedRevision: 1 });
        expect(next.nextExpectedRevision).toBe(2);
        await expect(
          store.appendToStream(stream, events(1), { expectedRevision: 1 }),
        ).rejects.toMatchObject({
          name: 'WrongExpectedRevisionError',
          streamId: stream,
          expected: 1,
          actual: 2,
        });
        await expect(
          store.appendToStream(`${prefix}missing`, events(1), { expectedRevision: 0 }),
        ).rejects.toMatchObject({
          expected: 0,
          actual: 'no_stream',
        });
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      test('when expecting stream_exists, then a missing stream conflicts and an existing one appends', async () => {
        const stream = `${prefix}c`;
        await expect(
          store.appendToStream(stream, events(1), { expectedRevision: 'stream_exists' }),
        ).rejects.toMatchObject({ expected: 'stream_exists', actual: 'no_stream' });
        expect(await store.streamExists(stream)).toBe(false);
        await store.appendToStream(stream, events(1), { expectedRevision: 'any' });
        const result = await store.appendToStream(stream, events(2), {
          expectedRevision: 'stream_exists',
        });
        expect(result.nextExpectedRevision).toBe(2);
        expect(await store.streamExists(stream)).toBe(true);
      });

      test('when appending with any, then it appends whatever the stream state', async () => {
        const stream = `${prefix}d`;
        expect(
          (await store.appendToStream(stream, events(1), { expectedRevision: 'any' }))
            .nextExpectedRevision,
        ).toBe(0);
        expect(
          (await store.appendToStream(stream, events(1), { expectedRevision: 'any' }))
            .nextExpectedRevision,
        ).toBe(1);
      });

      test('when ten writers append at the same expected revision, then exactly one wins and nothing is overwritten', async () => {
        const stream = `${prefix}race`;
        await store.appendToStream(stream, events(1), { expectedRevision: 'no_stream' });
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            store.appendToStream(stream, [event('race.won', { writer: i })], {
              expectedRevision: 0,
            }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results.filter((r) => r.status === 'rejected')) {
          expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
        }
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      test('when ten writers race to create one stream with no_stream, then exactly one creates it', async () => {
        const stream = `${prefix}create`;
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, () =>
            store.appendToStream(stream, events(2), { expectedRevision: 'no_stream' }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      test('when an append returns a position, then $all has its last event at that position', async () => {
        const stream = `${prefix}pos`;
        const result = await store.appendToStream(stream, events(2), {
          expectedRevision: 'no_stream',
        });
        const all = await store.readAll({ filter: { streamPrefixes: [prefix] } });
        expect(all).toHaveLength(2);
        expect(comparePositions(all[1]!.position, result.position)).toBe(0);
      });
    });

    describe('read', () => {
      test('when reading a stream forwards or backwards from a revision with a maximum, then the slice is right', async () => {
        const stream = `${prefix}r`;
        await store.appendToStream(stream, events(10), { expectedRevision: 'no_stream' });
        const revisions = async (options: Parameters<EventStore['readStream']>[1]) =>
          (await store.readStream(stream, options)).map((e) => e.revision);
        expect(await revisions({})).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(await revisions({ fromRevision: 4, maxCount: 3 })).toEqual([4, 5, 6]);
        expect(await revisions({ direction: 'backwards', maxCount: 3 })).toEqual([9, 8, 7]);
        expect(await revisions({ direction: 'backwards', fromRevision: 2 })).toEqual([2, 1, 0]);
        expect(await revisions({ fromRevision: 'start', maxCount: 1 })).toEqual([0]);
        expect(
          await revisions({ direction: 'backwards', fromRevision: 'end', maxCount: 1 }),
        ).toEqual([9]);
        expect((await store.readStream(stream)).map((e) => (e.data as { i: number }).i)).toEqual([
          0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        ]);
      });

      test('when a stream does not exist, then it reads as empty', async () => {
        expect(await store.readStream(`${prefix}nothing`)).toEqual([]);
        expect(await store.streamExists(`${prefix}nothing`)).toBe(false);
      });

      test('when reading $all, then events come in position order, after a position exclusively, at most maxCount', async () => {
        for (let i = 0; i < 5; i++) {
          await store.appendToStream(`${prefix}s${i % 2}`, events(2), { expectedRevision: 'any' });
        }
        const filter = { streamPrefixes: [prefix] };
        const all = await store.readAll({ filter, maxCount: 100 });
        expect(all).toHaveLength(10);
        for (let i = 1; i < all.length; i++)
          expect(comparePositions(all[i - 1]!.position, all[i]!.position)).toBe(-1);
        const after = await store.readAll({ filter, after: all[3]!.position, maxCount: 4 });
        expect(after.map((e) => e.id)).toEqual(all.slice(4, 8).map((e) => e.id));
      });

      test('when filtering $all by stream prefix and by event type, then only matching events come back', async () => {
        await store.appendToStream(`${prefix}x-1`, [event('order.placed'), event('order.paid')], {
          expectedRevision: 'any',
        });
        await store.appendToStream(`${prefix}y-1`, [event('order.placed'), event('user.joined')], {
          expectedRevision: 'any',
        });
        const types = async (filter: Parameters<EventStore['readAll']>[0]) =>
          (await store.readAll(filter)).map((e) => `${e.streamId.slice(prefix.length)}/${e.type}`);
        expect(await types({ filter: { streamPrefixes: [`${prefix}x-`] } })).toEqual([
          'x-1/order.placed',
          'x-1/order.paid',
        ]);
        expect(
          await types({ filter: { streamPrefixes: [prefix], eventTypes: ['order.placed'] } }),
        ).toEqual(['x-1/order.placed', 'y-1/order.placed']);
        expect(
          await types({ filter: { streamPrefixes: [prefix], eventTypePrefixes: ['order.'] } }),
        ).toEqual(['x-1/order.placed', 'x-1/order.paid', 'y-1/order.placed']);
      });

      test('when events carry metadata and rich data, then both round-trip exactly', async () => {
        const stream = `${prefix}meta`;
        const data = {
          text: 'héllo ✓ 日本',
          nested: { list: [1, 'two', null, { deep: true }] },
          amount: '12.50',
          n: 3.25,
        };
        const metadata = {
          correlationId: 'corr-1',
          causationId: 'cause-1',
          userId: 'user-1',
          schemaVersion: 3,
          source: 'test',
        };
        const id = randomUUID();
        await store.appendToStream(stream, [{ id, type: 'rich.thing', data, metadata }], {
          expectedRevision: 'no_stream',
        });
        const [read] = await store.readStream(stream);
        expect(read).toMatchObject({
          id,
          type: 'rich.thing',
          data,
          metadata,
          streamId: stream,
          revision: 0,
        });
        expect(read!.createdAt).toBeInstanceOf(Date);
        expect(Math.abs(read!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
        expect(await store.readEvent(id)).toMatchObject({ id, data });
        expect(await store.readEvent(randomUUID())).toBeUndefined();
      });

      test('when an event is large (1 MiB), then it is stored and read back whole', async () => {
        const stream = `${prefix}large`;
        const blob = 'x'.repeat(1024 * 1024);
        await store.appendToStream(stream, [event('large.thing', { blob })], {
          expectedRevision: 'no_stream',
        });
        const [read] = await store.readStream(stream);
        expect((read!.data as { blob: string }).blob).toHaveLength(blob.length);
      });

      test('when there are many streams, then each reads back its own events and listing pages through them', async () => {
        await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            store.appendToStream(`${prefix}many-${String(i).padStart(3, '0')}`, events(3), {
              expectedRevision: 'no_stream',
            }),
          ),
        );
        for (const i of [0, 29, 59]) {
          const stream = `${prefix}many-${String(i).padStart(3, '0')}`;
          const read = await store.readStream(stream);
          expect(read.map((e) => e.streamId)).toEqual([stream, stream, stream]);
        }
        const page1 = await store.listStreams({ prefix: `${prefix}many-`, limit: 50 });
        const page2 = await store.listStreams({
          prefix: `${prefix}many-`,
          after: page1[page1.length - 1]!.streamId,
          limit: 50,
        });
        const ids = [...page1, ...page2].map((s) => s.streamId);
        expect(ids).toHaveLength(60);
        expect(new Set(ids).size).toBe(60);
        expect(ids).toEqual([...ids].sort());
        expect(page1[0]).toMatchObject({ streamId: `${prefix}many-000`, revision: 2 });
        expect(
          (await store.readAll({ filter: { streamPrefixes: [`${prefix}many-`] }, maxCount: 1000 }))
            .length,
        ).toBe(180);
      });

      test('when events are appended, then the head position moves forward', async () => {
        const before = await store.headPosition();
        const result = await store.appendToStream(`${prefix}head`, events(1), {
          expectedRevision: 'no_stream',
        });
        const after = await store.headPosition();
        expect(after).toBeDefined();
        if (before) expect(comparePositions(after!, before)).toBe(1);
        expect(comparePositions(after!, result.position)).toBeGreaterThanOrEqual(0);
      });
    });

    describe('subscribe to $all', () => {
      test('when subscribing from the start, then history comes first, caught-up is reported, then live events follow', async () => {
        await store.appendToStream(`${prefix}h`, events(20), { expectedRevision: 'no_stream' });
        const sub = collect(store, { commit: 0n, prepare: 0n }, prefix);
        try {
          await eventually('sub.caughtUp()', () => sub.caughtUp());
          expect(sub.received).toHaveLength(20);
          expect(sub.subscription.caughtUp).toBe(true);
          await store.appendToStream(`${prefix}h`, events(5, 'live.thing'), {
            expectedRevision: 19,
          });
          await eventually('sub.received.length === 25', () => sub.received.length === 25);
          expect(sub.received.slice(20).every((e) => e.type === 'live.thing')).toBe(true);
          expect(sub.received.map((e) => e.revision)).toEqual(
            Array.from({ length: 25 }, (_, i) => i),
          );
        } finally {
          await sub.subscription.stop();
        }
      });

      test('when subscribing from a checkpoint, then only later events arrive', async () => {
        await store.appendToStream(`${prefix}cp`, events(10), { expectedRevision: 'no_stream' });
        const all = await store.readAll({ filter: { streamPrefixes: [prefix] } });
        const sub = collect(store, all[5]!.position, prefix);
        try {
          await eventually('sub.caughtUp()', () => sub.caughtUp());
          expect(sub.received.map((e) => e.revision)).toEqual([6, 7, 8, 9]);
        } finally {
          await sub.subscription.stop();
        }
      });

      test('when subscribing from the end, then only events appended afterwards arrive', async () => {
        await store.appendToStream(`${prefix}end`, events(3), { expectedRevision: 'no_stream' });
        const sub = collect(store, 'end', prefix);
        try {
          await eventually('sub.caughtUp()', () => sub.caughtUp());
          await store.appendToStream(`${prefix}end`, events(2, 'after.end'), {
            expectedRevision: 2,
          });
          await eventually('sub.received.length === 2', () => sub.received.length === 2);
          expect(sub.received.map((e) => e.type)).toEqual(['after.end', 'after.end']);
        } finally {
          await sub.subscription.stop();
        }
      });

      test('when another handle appends, then a live subscriber receives it promptly', async () => {
        const writer = fixture.other ?? store;
        const sub = collect(store, 'end', prefix);
        try {
          await eventually('sub.caughtUp()', () => sub.caughtUp());
          const started = Date.now();
          await writer.appendToStream(`${prefix}remote`, events(1), {
            expectedRevision: 'no_stream',
          });
          await eventually('sub.received.length === 1', () => sub.received.length === 1);
          expect(Date.now() - started).toBeLessThan(900);
        } finally {
          await sub.subscription.stop();
        }
      });

      test('when a subscription filters by type, then it receives only those and its checkpoint passes the rest', async () => {
        await store.appendToStream(
          `${prefix}f`,
          [event('a.one'), event('b.two'), event('a.one'), event('b.two')],
          {
            expectedRevision: 'no_stream',
          },
        );
        const sub = collect(store, { commit: 0n, prepare: 0n }, prefix, { eventTypes: ['a.one'] });
        try {
          await eventually(
            'sub.caughtUp() && sub.checkpoints.length > 0',
            () => sub.caughtUp() && sub.checkpoints.length > 0,
          );
          expect(sub.received.map((e) => e.type)).toEqual(['a.one', 'a.one']);
          const all = await store.readAll({ filter: { streamPrefixes: [prefix] } });
          const lastCheckpoint = sub.checkpoints[sub.checkpoints.length - 1]!;
          expect(comparePositions(lastCheckpoint, all[3]!.position)).toBeGreaterThanOrEqual(0);
        } finally {
          await sub.subscription.stop();
        }
      });

      test('when the handler throws, then the subscription stops and done rejects with that error', async () => {
        await store.appendToStream(`${prefix}boom`, events(3), { expectedRevision: 'no_stream' });
        let calls = 0;
        const subscription = store.subscribeToAll({
          from: { commit: 0n, prepare: 0n },
          filter: { streamPrefixes: [prefix] },
          onEvents: async () => {
            calls += 1;
            throw new Error('cannot apply');
          },
        });
        await expect(subscription.done).rejects.toThrow('cannot apply');
        expect(calls).toBe(1);
      });

      test('when asked for lag, then it reports the head and how far behind the subscriber is', async () => {
        await store.appendToStream(`${prefix}lag`, events(4), { expectedRevision: 'no_stream' });
        const sub = collect(store, 'end', prefix);
        try {
          await eventually('sub.caughtUp()', () => sub.caughtUp());
          const lag = await sub.subscription.lag();
          expect(lag.caughtUp).toBe(true);
          expect(lag.head).toBeDefined();
          expect(lag.oldestOpenTransactionMs).toBeGreaterThanOrEqual(0);
        } finally {
          await sub.subscription.stop();
        }
      });
    });
  });
}

import { randomUUID } from 'node:crypto';
import {
  CheckpointStore,
  CheckpointedPolicy,
  type Database,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import {
  type TestDatabase,
  captureLogger,
  createTestDatabase,
  eventually,
} from '@meetmatt/infra/testing';

describe('a checkpointed policy', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;
  let checkpoints: CheckpointStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('policy');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
    store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
    checkpoints = new CheckpointStore(database.pool);
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  const append = (type: string, n: number) =>
    store.appendToStream(
      `thing-${randomUUID()}`,
      Array.from({ length: n }, (_, i) => ({
        id: randomUUID(),
        type,
        data: { i },
        metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
      })),
      { expectedRevision: 'no_stream' },
    );

  function policy(
    name: string,
    handle: (events: RecordedEvent[]) => Promise<void>,
    wanted = 'thing.wanted',
  ) {
    return new CheckpointedPolicy({
      name,
      store,
      checkpoints,
      connectionString: testDb.url,
      logger: captureLogger('policy').logger,
      eventTypes: [wanted],
      handle,
      leaderRetryMs: 50,
    });
  }

  test('when two instances run it, then one handles each wanted event once, in order, and a later start resumes after its checkpoint', async () => {
    const name = `policy-${randomUUID()}`;
    await append('thing.other', 2);
    await append('thing.wanted', 3);
    const seen: string[] = [];
    const handle = async (events: RecordedEvent[]) => {
      seen.push(...events.map((e) => `${e.type}:${(e.data as { i: number }).i}`));
    };
    const [a, b] = [policy(name, handle), policy(name, handle)];
    a.start();
    b.start();
    await eventually('three handled', () => expect(seen).toHaveLength(3));
    expect(seen).toEqual(['thing.wanted:0', 'thing.wanted:1', 'thing.wanted:2']);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    await Promise.all([a.stop(), b.stop()]);

    await append('thing.wanted', 1);
    const again = policy(name, handle);
    again.start();
    await eventually('the new one handled', () => expect(seen).toHaveLength(4));
    await again.stop();
    expect(seen[3]).toBe('thing.wanted:0');
  });

  test('when a batch fails, then nothing after it is checkpointed and the policy resumes from its checkpoint', async () => {
    const name = `policy-${randomUUID()}`;
    await append('thing.failing', 2);
    let failures = 1;
    const handled: number[] = [];
    const running = policy(
      name,
      async (events) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('the outbox is away');
        }
        handled.push(...events.map((e) => (e.data as { i: number }).i));
      },
      'thing.failing',
    );
    running.start();
    await eventually('handled after the failure', () => expect(handled).toEqual([0, 1]));
    await running.stop();
    expect(await checkpoints.load(name)).toBeDefined();
  });
});

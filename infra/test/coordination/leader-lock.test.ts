import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  CheckpointStore,
  LeaderLock,
  createDatabase,
  migrateAll,
  type Database,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase, eventually } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';

describe('leader lock', () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('lock');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  function contender(key: string, leading: string[], name: string) {
    const lock = new LeaderLock({ connectionString: testDb.url, key, retryMs: 50 });
    const running = lock.run(async (signal) => {
      leading.push(name);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      leading.splice(leading.indexOf(name), 1);
    });
    return { lock, running };
  }

  test('when two instances contend, then one leads, and the other takes over when the first stops', async () => {
    const key = `test:${randomUUID()}`;
    const leading: string[] = [];
    const a = contender(key, leading, 'a');
    await eventually('leading.length === 1', () => leading.length === 1);
    const b = contender(key, leading, 'b');
    await sleep(300);
    expect(leading).toEqual(['a']);
    await a.lock.stop();
    await a.running;
    await eventually(
      `leading.length === 1 && leading[0] === 'b'`,
      () => leading.length === 1 && leading[0] === 'b',
    );
    await b.lock.stop();
    await b.running;
    expect(leading).toEqual([]);
  });

  test("when the leader's connection is killed, then its work is told to stop and another instance takes over", async () => {
    const key = `test:${randomUUID()}`;
    const leading: string[] = [];
    const a = contender(key, leading, 'a');
    await eventually('leading.length === 1', () => leading.length === 1);
    const b = contender(key, leading, 'b');
    const admin = new pg.Client({ connectionString: testDb.url });
    await admin.connect();
    // Only the leader's connection: the one holding the lock. b's attempts share its
    // application name, and killing one just as it took the lock would end b's leadership too.
    const { rowCount } = await admin.query(
      `SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
       JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
       WHERE a.application_name = $1 AND a.datname = current_database()`,
      [`leader:${key}`.slice(0, 63)],
    );
    expect(rowCount).toBe(1);
    await admin.end();
    await eventually(
      `leading.length === 1 && leading[0] === 'b'`,
      () => leading.length === 1 && leading[0] === 'b',
      10_000,
    );
    // a comes back as a follower: b keeps leading
    await sleep(300);
    expect(leading).toEqual(['b']);
    await Promise.all([a.lock.stop(), b.lock.stop()]);
    await Promise.all([a.running, b.running]);
  });
});

describe('checkpoint store', () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('ckpt');
    database = createDatabase({ url: testDb.url });
    await migrateAll(database.db, {});
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  test('when a checkpoint is saved, then it loads back exactly, and reset forgets it', async () => {
    const store = new CheckpointStore(database.pool);
    expect(await store.load('relay')).toBeUndefined();
    await store.save('relay', { commit: 18446744073709551615n, prepare: 42n });
    await store.save('relay', { commit: 900n, prepare: 43n });
    expect(await store.load('relay')).toEqual({ commit: 900n, prepare: 43n });
    expect((await store.list()).map((c) => c.name)).toEqual(['relay']);
    await store.reset('relay');
    expect(await store.load('relay')).toBeUndefined();
  });
});

import { type Kysely, sql } from 'kysely';
import { type Database, createDatabase } from '../../src/db/database';
import { captureLogger } from '../../src/testing/capture-logger';
import { type TestDatabase, createTestDatabase } from '../../src/testing/resources';
import { Housekeeping, inboxPruneTask } from '../../src/runtime/housekeeping';
import { migrateAll } from '../../src/runtime/service-host';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

const DAY = 86_400_000;

describe('housekeeping', () => {
  let testDb: TestDatabase;
  let database: Database;
  let db: Kysely<unknown>;

  beforeAll(async () => {
    testDb = await createTestDatabase('housekeeping');
    database = createDatabase({ url: testDb.url, max: 3 });
    db = database.db;
    await migrateAll(db, {});
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  async function inboxIds(consumer: string): Promise<string[]> {
    const { rows } = await sql<{ message_id: string }>`
      SELECT message_id FROM inbox WHERE consumer = ${consumer} ORDER BY message_id`.execute(db);
    return rows.map((r) => r.message_id);
  }

  test('when inbox rows are older than the retention, then a round deletes them and keeps the recent ones', async () => {
    const consumer = `c-${Date.now()}`;
    await sql`
      INSERT INTO inbox (consumer, message_id, processed_at) VALUES
        (${consumer}, 'old-1', now() - interval '20 days'),
        (${consumer}, 'old-2', now() - interval '15 days'),
        (${consumer}, 'new-1', now() - interval '1 day'),
        (${consumer}, 'new-2', now())`.execute(db);
    const { logger } = captureLogger();
    const housekeeping = new Housekeeping({
      connectionString: testDb.url,
      logger,
      intervalMs: 60_000,
      tasks: [inboxPruneTask(db, 14 * DAY)],
    });

    const pruned = await housekeeping.runOnce();

    expect(pruned.inbox).toBeGreaterThanOrEqual(2);
    expect(await inboxIds(consumer)).toEqual(['new-1', 'new-2']);
  });

  test('when many rows are due, then they go in batches until none is left', async () => {
    const consumer = `many-${Date.now()}`;
    await sql`
      INSERT INTO inbox (consumer, message_id, processed_at)
      SELECT ${consumer}, 'm-' || n, now() - interval '30 days' FROM generate_series(1, 2500) n`.execute(
      db,
    );
    const { logger } = captureLogger();
    const housekeeping = new Housekeeping({
      connectionString: testDb.url,
      logger,
      intervalMs: 60_000,
      tasks: [inboxPruneTask(db, 14 * DAY)],
    });

    expect((await housekeeping.runOnce()).inbox).toBeGreaterThanOrEqual(2500);
    expect(await inboxIds(consumer)).toEqual([]);
  });

  test('when two instances run housekeeping, then one leads and prunes on its schedule, and a failing task does not stop the others', async () => {
    const consumer = `lead-${Date.now()}`;
    await sql`
      INSERT INTO inbox (consumer, message_id, processed_at) VALUES
        (${consumer}, 'old', now() - interval '20 days')`.execute(db);
    const rounds: string[] = [];
    const make = (name: string) => {
      const { logger, entries } = captureLogger();
      const housekeeping = new Housekeeping({
        connectionString: testDb.url,
        logger,
        intervalMs: 100,
        leaderRetryMs: 100,
        tasks: [
          {
            name: 'broken',
            prune: () => Promise.reject(new Error('broken task')),
          },
          {
            name: 'witness',
            prune: async () => {
              rounds.push(name);
              return 0;
            },
          },
          inboxPruneTask(db, 14 * DAY),
        ],
      });
      return { housekeeping, entries };
    };
    const a = make('a');
    const b = make('b');
    a.housekeeping.start();
    b.housekeeping.start();
    try {
      await pollUntil(async () => rounds.length >= 3 && (await inboxIds(consumer)).length === 0, {
        timeoutMs: 5_000,
        intervalMs: 50,
      });
      expect(await inboxIds(consumer)).toEqual([]);
      expect(rounds.length).toBeGreaterThanOrEqual(3);
      expect(new Set(rounds).size).toBe(1);
      const failures = [...a.entries, ...b.entries].filter(
        (e) => e.message === 'housekeeping task failed',
      );
      expect(failures.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.housekeeping.stop(), b.housekeeping.stop()]);
    }
  });
});

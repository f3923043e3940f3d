import pg from 'pg';
import { type Database, createDatabase } from '../../src/db/database';
import { isUnavailableError } from '../../src/db/unavailable';
import { type TestDatabase, createTestDatabase } from '../../src/testing/resources';
import { TcpProxy } from '../../src/testing/tcp-proxy';
import { eventually } from '@meetmatt/infra/testing';

/** Terminates every connection to `url`'s database except the caller's own. */
async function terminateBackends(url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

describe('request pool under database faults', () => {
  let testDb: TestDatabase;
  let database: Database | undefined;

  beforeAll(async () => {
    testDb = await createTestDatabase('poolfault');
  });
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test('when the server terminates its connections mid-query and mid-transaction, then those fail as unavailable, the process survives and the pool serves again', async () => {
    database = createDatabase({ url: testDb.url, max: 4 });
    const { pool } = database;
    // One statement running, one client checked out between two statements of a transaction.
    const running = pool.query('SELECT pg_sleep(5)').then(
      () => 'answered',
      (error: unknown) => error,
    );
    const held = await pool.connect();
    await held.query('BEGIN');
    await eventually('the pool to answer', async () => {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`,
      );
      if (rows[0]!.n < 1) throw new Error('not running yet');
    });

    expect(await terminateBackends(testDb.url)).toBeGreaterThanOrEqual(2);

    const failure = await running;
    expect(failure).toBeInstanceOf(Error);
    expect(isUnavailableError(failure)).toBe(true);
    const second = await held.query('SELECT 1').catch((error: unknown) => error);
    expect(isUnavailableError(second)).toBe(true);
    held.release(second as Error);

    const { rows } = await eventually('the pool to answer', () =>
      pool.query<{ ok: number }>('SELECT 1 AS ok'),
    );
    expect(rows).toEqual([{ ok: 1 }]);
  });

  test('when a statement waits for a lock longer than the lock timeout, then it fails as unavailable instead of waiting', async () => {
    database = createDatabase({ url: testDb.url, max: 4, lockTimeoutMs: 300 });
    const { pool } = database;
    await pool.query('CREATE TABLE IF NOT EXISTS locked_rows (id int PRIMARY KEY)');
    await pool.query('INSERT INTO locked_rows VALUES (1) ON CONFLICT DO NOTHING');
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM locked_rows WHERE id = 1 FOR UPDATE');
      const started = Date.now();
      const error = await pool
        .query('UPDATE locked_rows SET id = 1 WHERE id = 1')
        .catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((error as { code?: string }).code).toBe('55P03');
      expect(isUnavailableError(error)).toBe(true);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  test('when the server stops answering (the connection stays open), then a statement fails within its bound and the pool serves again once the server is back', async () => {
    const proxy = await TcpProxy.forUrl(testDb.url, 5432).start();
    try {
      database = createDatabase({
        url: proxy.url(testDb.url),
        max: 2,
        statementTimeoutMs: 500,
        readGraceMs: 300,
        connectionTimeoutMs: 500,
      });
      const { pool } = database;
      await pool.query('SELECT 1');
      proxy.freeze();

      const started = Date.now();
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(isUnavailableError(error)).toBe(true);

      proxy.thaw();
      const { rows } = await eventually('the pool to answer', () =>
        pool.query<{ ok: number }>('SELECT 1 AS ok'),
      );
      expect(rows).toEqual([{ ok: 1 }]);
    } finally {
      await database?.close(1_000);
      database = undefined;
      await proxy.stop();
    }
  });
});

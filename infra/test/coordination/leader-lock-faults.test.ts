import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { LeaderLock } from '../../src/coordination/leader-lock';
import { type TestDatabase, createTestDatabase } from '../../src/testing/resources';
import { TcpProxy } from '../../src/testing/tcp-proxy';
import { eventually } from '@meetmatt/infra/testing';

/** Counts the terms of leadership one lock goes through. */
function leader(connectionString: string, key: string) {
  const terms: { started: number; ended?: number }[] = [];
  const lock = new LeaderLock({ connectionString, key, retryMs: 100, heartbeatMs: 200 });
  const running = lock.run(async (signal) => {
    const term: { started: number; ended?: number } = { started: Date.now() };
    terms.push(term);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    term.ended = Date.now();
  });
  return { lock, running, terms };
}

describe('leader lock under database faults', () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase('lockfault');
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test("when the only instance's lock connection is terminated, then its work stops and it leads again", async () => {
    const key = `test:${randomUUID()}`;
    const a = leader(testDb.url, key);
    try {
      await eventually('a.terms.length === 1', () => a.terms.length === 1, 5_000);
      const admin = new pg.Client({ connectionString: testDb.url });
      await admin.connect();
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND datname = current_database()`,
        [`leader:${key}`.slice(0, 63)],
      );
      await admin.end();
      await eventually('a.terms.length === 2', () => a.terms.length === 2, 5_000);
      expect(a.terms[0]!.ended).toBeDefined();
      expect(a.lock.isLeader).toBe(true);
    } finally {
      await a.lock.stop();
      await a.running;
    }
  });

  test('when the lock connection hangs (the server stops answering), then the work is told to stop within the heartbeat bound and leadership is taken again once the server answers', async () => {
    const proxy = await TcpProxy.forUrl(testDb.url, 5432).start();
    const key = `test:${randomUUID()}`;
    const a = leader(proxy.url(testDb.url), key);
    try {
      await eventually('a.terms.length === 1', () => a.terms.length === 1, 5_000);
      proxy.freeze();
      const frozenAt = Date.now();
      await eventually(
        'a.terms[0]!.ended !== undefined',
        () => a.terms[0]!.ended !== undefined,
        5_000,
      );
      expect(a.terms[0]!.ended! - frozenAt).toBeLessThan(3_000);

      proxy.thaw();
      await eventually('a.terms.length === 2', () => a.terms.length === 2, 10_000);
      expect(a.lock.isLeader).toBe(true);
    } finally {
      const stopped = Date.now();
      await a.lock.stop();
      await a.running;
      expect(Date.now() - stopped).toBeLessThan(3_000);
      await proxy.stop();
    }
  });
});

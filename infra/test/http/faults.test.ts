import pg from 'pg';
import request from 'supertest';
import { z } from 'zod';
import { defineEndpoint } from '@meetmatt/contracts';
import {
  type Database,
  Metrics,
  type ReadinessCheck,
  createDatabase,
  createHttpApp,
} from '@meetmatt/infra';
import { captureLogger, eventually } from '@meetmatt/infra/testing';
import { Liveness } from '../../src/runtime/liveness';
import { type TestDatabase, createTestDatabase } from '../../src/testing/resources';
import { TcpProxy } from '../../src/testing/tcp-proxy';
import { sleep } from '@meetmatt/infra/runtime/backoff';

const query = defineEndpoint({
  operationId: 'query',
  method: 'post',
  path: '/query',
  summary: 'runs one statement on the request pool',
  tags: ['test'],
  auth: 'none',
  body: z.object({ sql: z.string() }),
  responses: {},
});

function buildApp(
  database: Database,
  options: { requestTimeoutMs?: number; liveness?: Liveness; readiness?: ReadinessCheck[] } = {},
) {
  const { logger, entries } = captureLogger();
  const app = createHttpApp({
    service: 'test-service',
    logger,
    metrics: new Metrics('test-service', { defaultMetrics: false }),
    readiness: options.readiness ?? [
      { name: 'database', check: () => database.ping(500), timeoutMs: 1_000 },
    ],
    ...(options.requestTimeoutMs !== undefined
      ? { requestTimeoutMs: options.requestTimeoutMs }
      : {}),
    ...(options.liveness ? { liveness: options.liveness } : {}),
    routes: (routes) => {
      routes.add(query, async ({ body }) => {
        const { rows } = await database.pool.query(body.sql);
        return { status: 200, body: rows };
      });
    },
  });
  return { app, entries };
}

async function terminateWhen(url: string, running: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await eventually(
      `${running} to run`,
      async () => {
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = $1`,
          [running],
        );
        return (rowCount ?? 0) > 0;
      },
      { timeoutMs: 5_000, intervalMs: 25 },
    );
  } finally {
    await admin.end();
  }
}

describe('HTTP under database faults', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('httpfault');
  });
  beforeEach(async () => {
    proxy = await TcpProxy.forUrl(testDb.url, 5432).start();
    database = createDatabase({
      url: proxy.url(testDb.url),
      max: 2,
      connectionTimeoutMs: 500,
    });
  });
  afterEach(async () => {
    proxy.cut();
    await database.close(1_000);
    await proxy.stop();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test('when the connection of a request in flight is terminated, then it answers 503 problem+json with Retry-After, not 500, and the next request succeeds', async () => {
    const { app } = buildApp(database);
    const statement = 'SELECT pg_sleep(5) AS slept';
    const pending = request(app).post('/query').send({ sql: statement });
    const [response] = await Promise.all([pending, terminateWhen(testDb.url, statement)]);

    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    expect(response.body).toMatchObject({ status: 503 });

    const next = await request(app).post('/query').send({ sql: 'SELECT 1 AS ok' });
    expect(next.status).toBe(200);
    expect(next.body).toEqual([{ ok: 1 }]);
  });

  test('when the database hangs (connections open, nothing answers), then a request answers 503 with Retry-After within its budget', async () => {
    const { app } = buildApp(database, { requestTimeoutMs: 1_000 });
    expect((await request(app).post('/query').send({ sql: 'SELECT 1' })).status).toBe(200);
    proxy.freeze();

    const started = Date.now();
    const response = await request(app).post('/query').send({ sql: 'SELECT 1' });
    const tookMs = Date.now() - started;

    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    expect(tookMs).toBeLessThan(2_500);
  });

  test('when every pool connection is stuck, then /readyz answers 503 naming the database, quickly', async () => {
    const { app } = buildApp(database, { requestTimeoutMs: 0 });
    expect((await request(app).get('/readyz')).status).toBe(200);
    proxy.freeze();
    // Two requests stuck on the two connections the pool may open.
    void request(app)
      .post('/query')
      .send({ sql: 'SELECT 1' })
      .then(
        () => undefined,
        () => undefined,
      );
    void request(app)
      .post('/query')
      .send({ sql: 'SELECT 2' })
      .then(
        () => undefined,
        () => undefined,
      );

    const started = Date.now();
    const response = await request(app).get('/readyz');
    expect(response.status).toBe(503);
    expect(response.body.reason).toMatch(/^database/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('when the request pool has had callers waiting and handed out no connection for longer than the bound, then /healthz answers 503; alive again once it moves', async () => {
    const liveness = new Liveness({ pool: database.pool, stuckMs: 1_000, sampleMs: 100 });
    liveness.start();
    try {
      const { app } = buildApp(database, { requestTimeoutMs: 0, liveness });
      expect((await request(app).get('/healthz')).status).toBe(200);
      // Both connections held by statements that will not end soon, and callers queueing.
      const sleepers = [1, 2].map(() =>
        database.pool.query('SELECT pg_sleep(3)').catch(() => undefined),
      );
      const waiting = setInterval(() => {
        void database.pool.query('SELECT 1').catch(() => undefined);
      }, 200);
      try {
        const response = await eventually(
          '/healthz to answer 503',
          async () => {
            const answer = await request(app).get('/healthz');
            expect(answer.status).toBe(503);
            return answer;
          },
          { timeoutMs: 2_800, intervalMs: 100 },
        );
        expect(response.body.reason).toMatch(/pool/);
      } finally {
        clearInterval(waiting);
      }
      await Promise.all(sleepers);
      await sleep(300);
      expect((await request(app).get('/healthz')).status).toBe(200);
    } finally {
      liveness.stop();
    }
  });

  test('when the database refuses every connection, then /readyz answers 503 but /healthz stays 200: a restart would not bring the database back', async () => {
    const liveness = new Liveness({ pool: database.pool, stuckMs: 500, sampleMs: 100 });
    liveness.start();
    try {
      const { app } = buildApp(database, { requestTimeoutMs: 0, liveness });
      proxy.cut();
      const load = setInterval(() => {
        void database.pool.query('SELECT 1').catch(() => undefined);
      }, 20);
      try {
        await sleep(1_500);
        expect((await request(app).get('/readyz')).status).toBe(503);
        expect((await request(app).get('/healthz')).status).toBe(200);
      } finally {
        clearInterval(load);
      }
    } finally {
      liveness.stop();
    }
  });
});

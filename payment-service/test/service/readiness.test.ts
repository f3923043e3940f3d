import request from 'supertest';
import {
  TcpProxy,
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
  testServers,
  eventually,
} from '@meetmatt/infra/testing';
import { type RunningPaymentService, start } from '../../src/main';

describe('payment-service readiness', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let proxy: TcpProxy;
  let service: RunningPaymentService;

  beforeAll(async () => {
    [database, vhost] = await Promise.all([
      createTestDatabase('payment'),
      createTestVhost('payment'),
    ]);
    proxy = await TcpProxy.forUrl(testServers.postgresUrl, 5432).start();
    service = await start({
      env: {
        PORT: '0',
        DATABASE_URL: proxy.url(database.url),
        RABBITMQ_URL: vhost.url,
        RECONCILER_INTERVAL_MS: '0',
        LOG_LEVEL: 'silent',
      },
    });
  });

  afterAll(async () => {
    await service?.stop();
    await proxy?.stop();
    await database?.drop();
    await vhost?.drop();
  });

  test('when PostgreSQL is lost, then /readyz answers 503 naming the database, and recovers by itself', async () => {
    // ready once its consumer is bound and its projections have caught up
    const ready = await eventually('/readyz to answer 200', async () => {
      const res = await request(service.url).get('/readyz');
      expect(res.status).toBe(200);
      return res;
    });
    expect(ready.body.checks).toMatchObject({ database: { ok: true }, broker: { ok: true } });

    const cutAt = Date.now();
    proxy.cut();
    await eventually('/readyz to answer 503 for the database', async () => {
      const res = await request(service.url).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.reason).toMatch(/^database: /);
      expect(res.body.checks.database.ok).toBe(false);
    });
    expect(Date.now() - cutAt).toBeLessThan(5_000);
    // liveness does not depend on the database
    expect((await request(service.url).get('/healthz')).status).toBe(200);

    proxy.restore();
    await eventually('/readyz to answer 200 again', async () => {
      const res = await request(service.url).get('/readyz');
      expect(res.status).toBe(200);
    });
  });

  test('when a request has an unknown route, then a JSON 404 without a stack trace', async () => {
    const res = await request(service.url).get('/payments-nope/1');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.text).not.toMatch(/\bat .*\.ts/);
  });

  test('when asked, then it serves its OpenAPI 3.1 document', async () => {
    const res = await request(service.url).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/metrics']),
    );
  });
});

import request from 'supertest';
import {
  TcpProxy,
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
  testServers,
  eventually,
} from '@meetmatt/infra/testing';
import { type RunningUserService, start } from '../../src/main';
import { fromGateway, registerUser, testEnv } from '../support/world';

/**
 * /auth/verify is on the path of every request through the gateway: a valid JWT is answered
 * from memory, and an API key from a short cache, so they keep working while PostgreSQL is
 * unreachable, and the usage counted meanwhile is written when it is back.
 */
describe('/auth/verify without the database', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let proxy: TcpProxy;
  let service: RunningUserService;

  beforeAll(async () => {
    [database, vhost] = await Promise.all([
      createTestDatabase('user_hot'),
      createTestVhost('user_hot'),
    ]);
    proxy = await TcpProxy.forUrl(testServers.postgresUrl, 5432).start();
    service = await start({
      env: {
        ...testEnv(database, vhost),
        DATABASE_URL: proxy.url(database.url),
        API_KEY_CACHE_TTL_MS: '60000',
      },
      logger: captureLogger().logger,
    });
  });

  afterAll(async () => {
    proxy?.restore();
    await service?.stop();
    await proxy?.stop();
    await Promise.all([database?.drop(), vhost?.drop()]);
  });

  test('when PostgreSQL is cut off, then valid JWTs and cached API keys still verify, bad ones are still refused, and usage is written once it is back', async () => {
    const user = await registerUser(service.url);
    const { body: key } = await request(service.url)
      .post(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .send({ name: 'hot path' })
      .expect(201);
    await request(service.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', key.key)
      .expect(200);
    await service.context.usage.flush();

    proxy.cut();
    await eventually('/readyz to answer 503', () =>
      request(service.url).get('/readyz').expect(503),
    );
    for (let i = 0; i < 5; i++) {
      const jwt = await request(service.url)
        .get('/auth/verify')
        .set(fromGateway)
        .set('Authorization', user.authorization);
      expect(jwt.status).toBe(200);
      expect(jwt.headers['x-user-id']).toBe(user.userId);
      const apiKey = await request(service.url)
        .get('/auth/verify')
        .set(fromGateway)
        .set('X-Api-Key', key.key);
      expect(apiKey.status).toBe(200);
      expect(apiKey.headers['x-access-token']).toEqual(expect.any(String));
    }
    await request(service.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('Authorization', 'Bearer forged.token.here')
      .expect(401);
    // a key that is not cached needs the database: 503, and the gateway refuses the request
    const unknown = await request(service.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', `mm_UNKNOWNPREFIX_${'x'.repeat(43)}`);
    expect(unknown.status).toBe(503);
    expect(unknown.headers['retry-after']).toBeDefined();

    proxy.restore();
    await eventually(
      'eleven API requests counted',
      async () => {
        const res = await request(service.url)
          .get(`/users/${user.userId}/usage`)
          .set('Authorization', user.authorization)
          .expect(200);
        expect(res.body.apiRequests.total).toBe(11);
      },
      15_000,
    );
  });
});

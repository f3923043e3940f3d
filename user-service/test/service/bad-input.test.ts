import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { type EndpointDef, userEndpoints } from '@meetmatt/contracts';
import { type RegisteredUser, type UserWorld, registerUser, startWorld } from '../support/world';

/**
 * Every endpoint of the contract, fed what a confused or hostile client sends: the answer is
 * always a 4xx problem+json, never a 500, whatever the endpoint and whatever the garbage.
 */
describe('bad input to every endpoint', () => {
  let world: UserWorld;
  let user: RegisteredUser;

  beforeAll(async () => {
    world = await startWorld('user_bad');
    user = await registerUser(world.url);
  });

  afterAll(async () => {
    await world?.stop();
  });

  const freshSession = async () => {
    const res = await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    return `Bearer ${res.body.accessToken as string}`;
  };

  const endpoints = Object.values<EndpointDef>(userEndpoints).filter(
    (e) => e.operationId !== 'notificationStream',
  );

  const pathOf = (endpoint: EndpointDef, ids: Record<string, string>) =>
    endpoint.path.replace(/:(\w+)/g, (_m, name: string) => ids[name] ?? randomUUID());

  const bodies: [string, (r: request.Test) => request.Test][] = [
    ['malformed JSON', (r) => r.set('Content-Type', 'application/json').send('{"email": "a@b.c",')],
    ['a JSON array', (r) => r.send([1, 2, 3])],
    ['JSON null', (r) => r.set('Content-Type', 'application/json').send('null')],
    ['a JSON string', (r) => r.set('Content-Type', 'application/json').send('"hello"')],
    ['form data', (r) => r.type('form').send('email=a@b.c&password=x')],
    ['plain text', (r) => r.set('Content-Type', 'text/plain').send('email=a@b.c')],
    [
      'deeply wrong types',
      (r) =>
        r.send({
          email: { $gt: '' },
          password: [],
          name: 7,
          all: 'yes',
          displayName: null,
          refreshToken: {},
          expiresAt: 12,
          notificationChannels: 'in_app',
          notifyOn: [],
        }),
    ],
    ['a body over the limit', (r) => r.send({ name: 'x'.repeat(200_000) })],
    [
      'unicode oddities',
      (r) =>
        r.send({
          email: '\u0000@\uFFFF.com',
          password: '\uD800\uD800\uD800\uD800\uD800\uD800\uD800',
          name: '\u202E',
        }),
    ],
  ];

  for (const endpoint of endpoints) {
    const method = endpoint.method;
    describe(`${method.toUpperCase()} ${endpoint.path}`, () => {
      if (endpoint.body) {
        test.each(bodies)(
          'when the body is %s, then a 4xx problem or a harmless answer',
          async (_what, send) => {
            // logout ignores fields it does not know and succeeds: it gets a session of its own
            const authorization =
              endpoint.operationId === 'logout' ? await freshSession() : user.authorization;
            const req = request(world.url)[method](pathOf(endpoint, { id: user.userId }));
            const res = await send(req.set('Authorization', authorization).set('If-Match', '"0"'));
            expect([endpoint.path, res.status < 500]).toEqual([endpoint.path, true]);
            if (res.status >= 400)
              expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
            else expect(['logout', 'createApiKey']).toContain(endpoint.operationId);
          },
        );
      }

      if (endpoint.params) {
        test('when the path ids are not UUIDs, then 400 or 404, never 500', async () => {
          const path = endpoint.path.replace(/:(\w+)/g, "x'; DROP TABLE users;--");
          const req = request(world.url)[method](encodeURI(path));
          const res = await req
            .set('Authorization', user.authorization)
            .send(endpoint.body ? {} : undefined);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
        });
      }

      test('when the headers are garbage, then no 500', async () => {
        const req = request(world.url)[method](pathOf(endpoint, { id: user.userId }));
        const res = await req
          .set('Authorization', 'Bearer mm_\u00e9\u00e9\u00e9_' + 'x'.repeat(5_000))
          .set('X-Api-Key', 'mm_' + '_'.repeat(300))
          .set('If-Match', 'W/"' + '9'.repeat(40) + '"')
          .set('Last-Event-ID', 'nope')
          .query({ limit: '-1', unread: ['true', 'false'], from: '2026-02-30', to: "'; select" });
        expect(res.status).toBeLessThan(500);
      });
    });
  }

  test('when the stream is asked for with garbage, then no 500', async () => {
    const res = await request(world.url)
      .get(`/users/not-a-uuid/notifications/stream`)
      .set('Authorization', user.authorization)
      .set('Last-Event-ID', 'garbage');
    expect(res.status).toBe(400);
  });

  test('when anything above happened, then nothing was logged as an unhandled error', () => {
    expect(world.logs.filter((e) => e.message === 'unhandled error')).toEqual([]);
  });
});

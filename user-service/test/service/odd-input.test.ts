import request from 'supertest';
import {
  type RegisteredUser,
  type UserWorld,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
} from '../support/world';

/** Input a database cannot store or a person never means: 400 naming the field, nothing kept. */
describe('odd input', () => {
  let world: UserWorld;
  let user: RegisteredUser;

  beforeAll(async () => {
    world = await startWorld('user_odd');
    user = await registerUser(world.url);
  });

  afterAll(async () => {
    await world?.stop();
  });

  const expectBadField = (res: request.Response, field: string) => {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((res.body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
  };

  const eventCount = async () =>
    (
      await world.service.host.database.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM es_events',
      )
    ).rows[0]!.n;

  test('when a display name holds a NUL, then sign-up answers 400 naming it and keeps no credentials and no reserved email', async () => {
    const email = uniqueEmail();
    const before = await eventCount();
    const credentials = async () =>
      (await world.service.host.database.pool.query('SELECT 1 FROM credentials')).rowCount;
    const rows = await credentials();
    const res = await request(world.url)
      .post('/auth/register')
      .send({ email, password: strongPassword(), displayName: 'Ada\u0000Lovelace' });
    expectBadField(res, 'displayName');
    expect(await eventCount()).toBe(before);
    expect(await credentials()).toBe(rows);
    await request(world.url)
      .post('/auth/register')
      .send({ email, password: strongPassword(), displayName: 'Ada' })
      .expect(201);
  });

  test('when a profile, an API-key name or a time zone holds a NUL, then 400 naming the field', async () => {
    expectBadField(
      await request(world.url)
        .put(`/users/${user.userId}`)
        .set('Authorization', user.authorization)
        .set('If-Match', '*')
        .send({ displayName: 'x\u0000' }),
      'displayName',
    );
    expectBadField(
      await request(world.url)
        .post(`/users/${user.userId}/api-keys`)
        .set('Authorization', user.authorization)
        .send({ name: 'ci\u0000' }),
      'name',
    );
    const preferences = await request(world.url)
      .get(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .expect(200);
    expectBadField(
      await request(world.url)
        .put(`/users/${user.userId}/preferences`)
        .set('Authorization', user.authorization)
        .send({ ...preferences.body, timeZone: 'Europe/\u0000Paris' }),
      'timeZone',
    );
    expectBadField(
      await request(world.url).post('/auth/refresh').send({ refreshToken: 'abc\u0000def' }),
      'refreshToken',
    );
  });

  test.each(['0001-01-10', '0000-01-01', '1999-12-31', '10000-01-01'])(
    'when usage is asked up to %s, then 400 naming to',
    async (to) => {
      expectBadField(
        await request(world.url)
          .get(`/users/${user.userId}/usage`)
          .query({ to })
          .set('Authorization', user.authorization),
        'to',
      );
    },
  );

  test.each([
    ['an offset that leaves year 9999', '9999-12-31T23:59:59-23:59'],
    ['more than two years ahead', new Date(Date.now() + 3 * 366 * 86_400_000).toISOString()],
    ['before 1970', '1969-12-31T23:59:59Z'],
  ])('when an API key would expire %s, then 400 naming expiresAt', async (_case, expiresAt) => {
    const before = await eventCount();
    expectBadField(
      await request(world.url)
        .post(`/users/${user.userId}/api-keys`)
        .set('Authorization', user.authorization)
        .send({ name: 'ci', expiresAt }),
      'expiresAt',
    );
    expect(await eventCount()).toBe(before);
  });
});

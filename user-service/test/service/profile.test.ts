import { randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  type RegisteredUser,
  type UserWorld,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
  grantAdmin,
} from '../support/world';
import { defaultPreferences } from '@meetmatt/contracts';
import { updatePreferences, updateUser } from '../../src/application/profile';

describe('profile and preferences', () => {
  let world: UserWorld;
  let admin: RegisteredUser;

  beforeAll(async () => {
    world = await startWorld('user_profile');
    admin = await grantAdmin(world.service, await registerUser(world.url));
  });

  afterAll(async () => {
    await world?.stop();
  });

  const getUser = (user: RegisteredUser, id = user.userId) =>
    request(world.url).get(`/users/${id}`).set('Authorization', user.authorization);

  test('when a user reads their profile, then 200 with an ETag carrying the revision', async () => {
    const user = await registerUser(world.url);
    const res = await getUser(user).expect(200);
    expect(res.body).toEqual({
      id: user.userId,
      email: user.email,
      displayName: user.displayName,
      role: 'user',
      createdAt: expect.any(String),
      billing: null,
    });
    expect(res.headers.etag).toBe('"0"');
  });

  test('when the display name changes with the current ETag, then 200, a new ETag, and the read model has it', async () => {
    const user = await registerUser(world.url);
    const { headers } = await getUser(user).expect(200);
    const res = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', headers.etag as string)
      .send({ displayName: '  Ada Lovelace ' })
      .expect(200);
    expect(res.body.displayName).toBe('Ada Lovelace');
    expect(res.headers.etag).toBe('"1"');
    const after = await getUser(user).expect(200);
    expect(after.body.displayName).toBe('Ada Lovelace');
    expect(after.headers.etag).toBe('"1"');
  });

  test('when If-Match is stale, then 412 and nothing changes', async () => {
    const user = await registerUser(world.url);
    const put = (etag: string, displayName: string) =>
      request(world.url)
        .put(`/users/${user.userId}`)
        .set('Authorization', user.authorization)
        .set('If-Match', etag)
        .send({ displayName });
    await put('"0"', 'First').expect(200);
    const stale = await put('"0"', 'Second');
    expect(stale.status).toBe(412);
    expect(stale.headers['content-type']).toMatch(/problem\+json/);
    expect((await getUser(user)).body.displayName).toBe('First');
  });

  test('when a stale If-Match is refused, then the refusal waits for the views to reach the stream head, so the next read has the ETag to use', async () => {
    // Another instance renamed the user; this instance's views may not have it yet (a hand-over).
    const user = await registerUser(world.url);
    const context = world.service.context;
    const elsewhere = await updatePreferences(
      { ...context, waitForProjections: async () => undefined },
      user.userId,
      { ...defaultPreferences, timeZone: 'Europe/Paris' },
      undefined,
    );
    expect(elsewhere.ok).toBe(true);
    const [head] = await context.store.readStream(`user-${user.userId}`, {
      direction: 'backwards',
      maxCount: 1,
    });
    const waited: unknown[] = [];
    const refused = await updateUser(
      {
        ...context,
        waitForProjections: async (position) => {
          waited.push(position);
          await context.waitForProjections(position);
        },
      },
      { userId: user.userId, role: 'user', sessionId: randomUUID(), token: user.accessToken },
      user.userId,
      0,
      { displayName: 'Too late' },
      { userAgent: null, ip: null },
    );
    expect(refused).toEqual({
      ok: false,
      error: expect.objectContaining({ code: 'stale-revision' }),
    });
    expect(waited).toEqual([head!.position]);
    const read = await getUser(user).expect(200);
    expect(read.headers.etag).toBe(`"${head!.revision}"`);
  });

  test('when If-Match is missing, then 428; when malformed, then 400 naming the header', async () => {
    const user = await registerUser(world.url);
    const missing = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .send({ displayName: 'X' });
    expect(missing.status).toBe(428);
    const malformed = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', 'yesterday')
      .send({ displayName: 'X' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([
      expect.objectContaining({ field: 'If-Match', in: 'header' }),
    ]);
  });

  test('when two updates race on one revision, then one succeeds and the other gets 412', async () => {
    const user = await registerUser(world.url);
    const results = await Promise.all(
      ['A', 'B'].map((name) =>
        request(world.url)
          .put(`/users/${user.userId}`)
          .set('Authorization', user.authorization)
          .set('If-Match', '"0"')
          .send({ displayName: name }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
  });

  test('when the email changes, then the new one signs in, and the old one is free for someone else', async () => {
    const user = await registerUser(world.url);
    const newEmail = uniqueEmail('moved');
    const res = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ email: newEmail.toUpperCase() })
      .expect(200);
    expect(res.body.email).toBe(newEmail);
    await request(world.url)
      .post('/auth/login')
      .send({ email: newEmail, password: user.password })
      .expect(200);
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(401);
    const newcomer = await request(world.url)
      .post('/auth/register')
      .send({ email: user.email, password: strongPassword() });
    expect(newcomer.status).toBe(201);
  });

  test('when the new email belongs to someone else, then 409 and the profile keeps its email', async () => {
    const user = await registerUser(world.url);
    const taken = await registerUser(world.url);
    const res = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ email: taken.email });
    expect(res.status).toBe(409);
    expect((await getUser(user)).body.email).toBe(user.email);
    await request(world.url)
      .post('/auth/login')
      .send({ email: taken.email, password: taken.password })
      .expect(200);
  });

  test('when an email change loses to a stale revision, then the new email is given back', async () => {
    const user = await registerUser(world.url);
    const wanted = uniqueEmail('wanted');
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ displayName: 'Moved on' })
      .expect(200);
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ email: wanted })
      .expect(412);
    await request(world.url)
      .post('/auth/register')
      .send({ email: wanted, password: strongPassword() })
      .expect(201);
  });

  test('when a body names neither field or a bad one, then 400 naming it', async () => {
    const user = await registerUser(world.url);
    const empty = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({});
    expect(empty.status).toBe(400);
    const bad = await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ email: 'nope', displayName: 'x'.repeat(81) });
    expect(bad.status).toBe(400);
    expect((bad.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      'displayName',
      'email',
    ]);
  });

  test('when preferences are replaced, then they read back with a new ETag', async () => {
    const user = await registerUser(world.url);
    const initial = await request(world.url)
      .get(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(initial.body).toEqual({
      notificationChannels: ['in_app'],
      notifyOn: {
        paymentConfirmed: true,
        paymentFailed: true,
        agentDeployed: true,
        agentFailed: true,
      },
      defaultPayCurrency: null,
      timeZone: 'UTC',
      locale: 'en',
    });
    const preferences = {
      notificationChannels: ['in_app', 'email'],
      notifyOn: {
        paymentConfirmed: false,
        paymentFailed: true,
        agentDeployed: true,
        agentFailed: false,
      },
      defaultPayCurrency: 'usdttrc20',
      timeZone: 'Europe/Paris',
      locale: 'fr-FR',
    };
    const put = await request(world.url)
      .put(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .send(preferences)
      .expect(200);
    expect(put.body).toEqual(preferences);
    expect(put.headers.etag).toBe('"1"');
    const read = await request(world.url)
      .get(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(read.body).toEqual(preferences);
    // the profile ETag moved with it: an If-Match from before is stale
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send({ displayName: 'x' })
      .expect(412);
    await request(world.url)
      .put(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .set('If-Match', '"0"')
      .send(preferences)
      .expect(412);
  });

  test('when preferences are malformed, then 400 naming each field', async () => {
    const user = await registerUser(world.url);
    const res = await request(world.url)
      .put(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .send({
        notificationChannels: ['sms'],
        notifyOn: { paymentConfirmed: 'yes' },
        defaultPayCurrency: 'BTC',
        timeZone: '',
        locale: 'english',
      });
    expect(res.status).toBe(400);
    const fields = (res.body.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'notificationChannels.0',
        'notifyOn.paymentConfirmed',
        'defaultPayCurrency',
        'timeZone',
        'locale',
      ]),
    );
  });

  test('when user A reads or changes user B, then 404 and B is untouched', async () => {
    const a = await registerUser(world.url);
    const b = await registerUser(world.url);
    await getUser(a, b.userId).expect(404);
    await request(world.url)
      .put(`/users/${b.userId}`)
      .set('Authorization', a.authorization)
      .set('If-Match', '"0"')
      .send({ displayName: 'pwned' })
      .expect(404);
    await request(world.url)
      .get(`/users/${b.userId}/preferences`)
      .set('Authorization', a.authorization)
      .expect(404);
    await request(world.url)
      .put(`/users/${b.userId}/preferences`)
      .set('Authorization', a.authorization)
      .send({
        notificationChannels: [],
        notifyOn: {
          paymentConfirmed: false,
          paymentFailed: false,
          agentDeployed: false,
          agentFailed: false,
        },
        defaultPayCurrency: null,
        timeZone: 'UTC',
        locale: 'en',
      })
      .expect(404);
    await request(world.url)
      .get(`/users/${b.userId}/usage`)
      .set('Authorization', a.authorization)
      .expect(404);
    expect((await getUser(b)).body.displayName).toBe(b.displayName);
    expect((await getUser(b)).headers.etag).toBe('"0"');
  });

  test('when an admin reads another user, then 200; changing them is forbidden', async () => {
    const user = await registerUser(world.url);
    const res = await getUser(admin, user.userId).expect(200);
    expect(res.body.id).toBe(user.userId);
    await request(world.url)
      .get(`/users/${user.userId}/preferences`)
      .set('Authorization', admin.authorization)
      .expect(200);
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', admin.authorization)
      .set('If-Match', '"0"')
      .send({ displayName: 'by admin' })
      .expect(403);
    await getUser(admin, randomUUID()).expect(404);
  });

  test('when there is no token, then 401 problem+json', async () => {
    const res = await request(world.url).get(`/users/${randomUUID()}`);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});

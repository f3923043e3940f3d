import { eventually } from '@meetmatt/infra/testing';
import request from 'supertest';
import { openStream } from '../support/sse';
import {
  type RegisteredUser,
  type UserWorld,
  fromGateway,
  grantAdmin,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
} from '../support/world';
import { sleep } from '@meetmatt/infra/runtime/backoff';

describe('credentials have scopes', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_scopes', {
      RECENT_AUTH_MAX_AGE_MS: '1500',
      NOTIFICATION_STREAMS_PER_USER: '2',
    });
  });

  afterAll(async () => {
    await world?.stop();
  });

  const as = (authorization: string) => ({
    createKey: (userId: string) =>
      request(world.url)
        .post(`/users/${userId}/api-keys`)
        .set('Authorization', authorization)
        .send({ name: 'more' }),
    changeEmail: (userId: string, body: Record<string, unknown>) =>
      request(world.url)
        .put(`/users/${userId}`)
        .set('Authorization', authorization)
        .set('If-Match', '*')
        .send(body),
    logout: (all: boolean) =>
      request(world.url).post('/auth/logout').set('Authorization', authorization).send({ all }),
    endSession: (sessionId: string) =>
      request(world.url).delete(`/auth/sessions/${sessionId}`).set('Authorization', authorization),
    sessions: () => request(world.url).get('/auth/sessions').set('Authorization', authorization),
    changePassword: (currentPassword: string, newPassword: string) =>
      request(world.url)
        .put('/auth/password')
        .set('Authorization', authorization)
        .send({ currentPassword, newPassword }),
    confirm: (password: string) =>
      request(world.url)
        .post('/auth/confirm-password')
        .set('Authorization', authorization)
        .send({ password }),
  });

  const signIn = async (user: RegisteredUser) =>
    (await request(world.url).post('/auth/login').send(user).expect(200)).body as {
      accessToken: string;
    };
  const stale = () => sleep(1_600);
  const expectForbidden = (res: request.Response, code: string) => {
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.type).toMatch(new RegExp(`/${code}$`));
  };

  test('when an API key’s access token manages credentials, then 403 each time and nothing changes', async () => {
    const user = await registerUser(world.url);
    const other = await signIn(user);
    const { body: key } = await as(user.authorization).createKey(user.userId).expect(201);
    const verified = await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', key.key as string)
      .expect(200);
    const viaKey = as(`Bearer ${verified.headers['x-access-token'] as string}`);
    const sessions = (await as(user.authorization).sessions().expect(200)).body.sessions as {
      id: string;
    }[];
    expect(sessions).toHaveLength(2);

    expectForbidden(await viaKey.createKey(user.userId), 'session-required');
    expectForbidden(
      await viaKey.changeEmail(user.userId, {
        email: uniqueEmail(),
        currentPassword: user.password,
      }),
      'session-required',
    );
    expectForbidden(
      await viaKey.changePassword(user.password, strongPassword()),
      'session-required',
    );
    expectForbidden(await viaKey.logout(true), 'session-required');
    expectForbidden(await viaKey.logout(false), 'session-required');
    expectForbidden(await viaKey.endSession(sessions[0]!.id), 'session-required');

    const keys = await as(user.authorization).sessions().expect(200);
    expect(keys.body.sessions).toHaveLength(2);
    const listed = await request(world.url)
      .get(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(listed.body.keys).toHaveLength(1);
    const profile = await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(profile.body.email).toBe(user.email);
    // The other session still works: nothing was ended.
    await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', `Bearer ${other.accessToken}`)
      .expect(200);
  });

  test('when a session’s password check is older than the limit, then credential changes need it again', async () => {
    const user = await registerUser(world.url);
    const other = await signIn(user);
    const me = as(user.authorization);
    await stale();

    expectForbidden(await me.createKey(user.userId), 'recent-auth-required');
    expectForbidden(
      await me.changeEmail(user.userId, { email: uniqueEmail() }),
      'recent-auth-required',
    );
    expectForbidden(await me.logout(true), 'recent-auth-required');
    const listed = (await me.sessions().expect(200)).body.sessions as {
      id: string;
      current: boolean;
    }[];
    const otherSid = listed.find((s) => !s.current)!.id;
    expectForbidden(await me.endSession(otherSid), 'recent-auth-required');
    expect((await me.sessions().expect(200)).body.sessions).toHaveLength(2);

    // A display name is no credential.
    await me.changeEmail(user.userId, { displayName: 'Still me' }).expect(200);
    // The email with the current password in the body.
    expectForbidden(
      await me.changeEmail(user.userId, { email: uniqueEmail(), currentPassword: 'not-it-at-all' }),
      'wrong-password',
    );
    const newEmail = uniqueEmail();
    const changed = await me
      .changeEmail(user.userId, { email: newEmail, currentPassword: user.password })
      .expect(200);
    expect(changed.body.email).toBe(newEmail);
    // Or confirm the password, then the rest.
    expectForbidden(await me.confirm('not-it-at-all'), 'wrong-password');
    await me.confirm(user.password).expect(204);
    await me.createKey(user.userId).expect(201);
    await me.endSession(otherSid).expect(204);
    await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', `Bearer ${other.accessToken}`)
      .expect(401);
  });

  test('when a session gives its current password and a new one, then the password changes and the other sessions end', async () => {
    const user = await registerUser(world.url);
    const other = await signIn(user);
    await stale();
    const me = as(user.authorization);
    expectForbidden(await me.changePassword('not-it-at-all', strongPassword()), 'wrong-password');
    await request(world.url).post('/auth/login').send(user).expect(200);
    const newPassword = strongPassword();
    await me.changePassword(user.password, newPassword).expect(204);
    await request(world.url).post('/auth/login').send(user).expect(401);
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: newPassword })
      .expect(200);
    await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', `Bearer ${other.accessToken}`)
      .expect(401);
    // This session carries on, and the profile's ETag follows the stream.
    const profile = await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .expect(200);
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', profile.headers.etag as string)
      .send({ displayName: 'Renamed' })
      .expect(200);
  });

  test('when a stale session signs itself out, then that still works', async () => {
    const user = await registerUser(world.url);
    await stale();
    await as(user.authorization).logout(false).expect(204);
    await as(user.authorization).sessions().expect(401);
  });

  test('when an admin changes their email, then the old address stays theirs, even after the grace period', async () => {
    const admin = await grantAdmin(world.service, await registerUser(world.url));
    const oldEmail = admin.email;
    await as(admin.authorization)
      .changeEmail(admin.userId, { email: uniqueEmail(), currentPassword: admin.password })
      .expect(200);
    const register = () =>
      request(world.url)
        .post('/auth/register')
        .send({ email: oldEmail, password: strongPassword() });
    await register().expect(409);
    const ctx = world.service.context;
    const realNow = ctx.now;
    ctx.now = () => new Date(Date.now() + 10 * 60_000);
    try {
      await register().expect(409);
    } finally {
      ctx.now = realNow;
    }
    // A plain user's old address is free again.
    const user = await registerUser(world.url);
    await as(user.authorization)
      .changeEmail(user.userId, { email: uniqueEmail(), currentPassword: user.password })
      .expect(200);
    await request(world.url)
      .post('/auth/register')
      .send({ email: user.email, password: strongPassword() })
      .expect(201);
  });

  test('when a user opens more notification streams than allowed, then the oldest is closed', async () => {
    const user = await registerUser(world.url);
    const url = `${world.url}/users/${user.userId}/notifications/stream`;
    const open = () => openStream(url, { Authorization: user.authorization });
    const first = await open();
    const second = await open();
    const third = await open();
    try {
      expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
      await eventually('the first stream to end', () => expect(first.ended).toBe(true), 5_000);
      expect(second.ended).toBe(false);
      expect(third.ended).toBe(false);
    } finally {
      for (const s of [first, second, third]) s.close();
    }
  });
});

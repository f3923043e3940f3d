import { eventually } from '@meetmatt/infra/testing';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { decodeJwt } from 'jose';
import { API_KEY_PATTERN } from '@meetmatt/contracts';
import {
  type RegisteredUser,
  type UserWorld,
  registerUser,
  startWorld,
  fromGateway,
} from '../support/world';

describe('API keys', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_keys', { API_KEY_TOKEN_TTL_SECONDS: '120' });
  });

  afterAll(async () => {
    await world?.stop();
  });

  const createKey = (user: RegisteredUser, body: Record<string, unknown> = { name: 'ci' }) =>
    request(world.url)
      .post(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .send(body);

  test('when a key is created, then 201 shows it once as mm_<prefix>_<secret>, and the list never shows it', async () => {
    const user = await registerUser(world.url);
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const res = await createKey(user, { name: 'deploy script', expiresAt }).expect(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'deploy script',
      prefix: expect.any(String),
      createdAt: expect.any(String),
      lastUsedAt: null,
      expiresAt,
      key: expect.stringMatching(API_KEY_PATTERN),
    });
    expect((res.body.key as string).startsWith(`mm_${res.body.prefix}_`)).toBe(true);
    const list = await request(world.url)
      .get(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(list.body.keys).toEqual([
      {
        id: res.body.id,
        name: 'deploy script',
        prefix: res.body.prefix,
        createdAt: res.body.createdAt,
        lastUsedAt: null,
        expiresAt,
      },
    ]);
    const secret = (res.body.key as string).slice(`mm_${res.body.prefix}_`.length);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    // nor does the event log: the event names the key, the secret is only hashed in its table
    const events = await world.service.host.eventStore.readStream(`user-apikey-${res.body.id}`);
    expect(events.map((e) => e.type)).toEqual(['user.api-key-created']);
    expect(JSON.stringify(events.map((e) => [e.data, e.metadata]))).not.toContain(secret);
  });

  test('when a key is presented to /auth/verify, then 200 with the identity and a short-lived access token that the API accepts', async () => {
    const user = await registerUser(world.url);
    const { body: created } = await createKey(user).expect(201);
    for (const send of [
      (r: request.Test) => r.set('Authorization', `Bearer ${created.key}`),
      (r: request.Test) => r.set('X-Api-Key', created.key),
    ]) {
      const res = await send(request(world.url).get('/auth/verify').set(fromGateway)).expect(200);
      expect(res.headers['x-user-id']).toBe(user.userId);
      expect(res.headers['x-user-role']).toBe('user');
      const token = res.headers['x-access-token'] as string;
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ sub: user.userId, role: 'user', sid: created.id });
      expect(claims.exp! - claims.iat!).toBe(120);
      await request(world.url)
        .get(`/users/${user.userId}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
    }
    // the key's use shows in the list (from memory before the flush, from the table after)
    const list = await request(world.url)
      .get(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(list.body.keys[0].lastUsedAt).toEqual(expect.any(String));
  });

  test('when a key is revoked, then it is refused at once, and so is the access token handed out for it', async () => {
    const user = await registerUser(world.url);
    const { body: created } = await createKey(user).expect(201);
    const verified = await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', created.key)
      .expect(200);
    const token = verified.headers['x-access-token'] as string;
    await request(world.url)
      .delete(`/users/${user.userId}/api-keys/${created.id}`)
      .set('Authorization', user.authorization)
      .expect(204);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', created.key)
      .expect(401);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('Authorization', `Bearer ${token}`)
      .expect(401);
    const list = await request(world.url)
      .get(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(list.body.keys).toEqual([]);
    // revoking again: already gone for its owner is still "done"
    await request(world.url)
      .delete(`/users/${user.userId}/api-keys/${created.id}`)
      .set('Authorization', user.authorization)
      .expect(204);
  });

  test('when a key is revoked on one instance, then the other instance, which had it cached, refuses it within a moment', async () => {
    const user = await registerUser(world.url);
    const { body: created } = await createKey(user).expect(201);
    const other = await world.startAnother();
    await request(other.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', created.key)
      .expect(200);
    await request(world.url)
      .delete(`/users/${user.userId}/api-keys/${created.id}`)
      .set('Authorization', user.authorization)
      .expect(204);
    await eventually(
      'the other instance to refuse the revoked key',
      () =>
        request(other.url)
          .get('/auth/verify')
          .set(fromGateway)
          .set('X-Api-Key', created.key)
          .expect(401),
      5_000,
    );
  });

  test.each([
    ['a wrong secret', (key: string) => `${key.slice(0, -4)}AAAA`],
    ['an unknown prefix', () => `mm_ZZZZZZZZZZZZ_${'A'.repeat(43)}`],
    ['a malformed key', () => 'mm_short'],
  ])('when a key with %s is presented, then 401', async (_what, make) => {
    const user = await registerUser(world.url);
    const { body: created } = await createKey(user).expect(201);
    const res = await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', make(created.key));
    expect(res.status).toBe(401);
    expect(res.headers['x-user-id']).toBeUndefined();
  });

  test('when a key has expired, then it is refused', async () => {
    const user = await registerUser(world.url);
    const { body: created } = await createKey(user, {
      name: 'short-lived',
      expiresAt: new Date(Date.now() + 5_000).toISOString(),
    }).expect(201);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', created.key)
      .expect(200);
    await eventually(
      'the revoked key to be refused',
      () =>
        request(world.url)
          .get('/auth/verify')
          .set(fromGateway)
          .set('X-Api-Key', created.key)
          .expect(401),
      10_000,
    );
  });

  test('when the body is bad, then 400 naming the field; an expiry in the past is refused', async () => {
    const user = await registerUser(world.url);
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(81) }, 'name'],
      [{ name: 'ok', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'ok', expiresAt: new Date(Date.now() - 60_000).toISOString() }, 'expiresAt'],
    ] as const) {
      const res = await createKey(user, body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      expect(res.body.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ field, in: 'body' })]),
      );
    }
  });

  test('when user A lists, creates or revokes user B’s keys, then 404 and B’s key still works', async () => {
    const a = await registerUser(world.url);
    const b = await registerUser(world.url);
    const { body: created } = await createKey(b).expect(201);
    await request(world.url)
      .get(`/users/${b.userId}/api-keys`)
      .set('Authorization', a.authorization)
      .expect(404);
    await request(world.url)
      .post(`/users/${b.userId}/api-keys`)
      .set('Authorization', a.authorization)
      .send({ name: 'mine now' })
      .expect(404);
    await request(world.url)
      .delete(`/users/${b.userId}/api-keys/${created.id}`)
      .set('Authorization', a.authorization)
      .expect(404);
    // A naming B's key under A's own path: not A's key
    await request(world.url)
      .delete(`/users/${a.userId}/api-keys/${created.id}`)
      .set('Authorization', a.authorization)
      .expect(404);
    await request(world.url)
      .delete(`/users/${a.userId}/api-keys/${randomUUID()}`)
      .set('Authorization', a.authorization)
      .expect(404);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('X-Api-Key', created.key)
      .expect(200);
  });
});

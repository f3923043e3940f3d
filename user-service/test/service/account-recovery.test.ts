import { sql } from 'kysely';
import request from 'supertest';
import { eventually } from '@meetmatt/infra/testing';
import { userMailRenderers } from '../../src/application/mails';
import {
  type UserWorld,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
} from '../support/world';

/**
 * Verification and reset over HTTP with real PostgreSQL. The mail is read where the sender
 * takes it: the outbox row the policy queued from the event, rendered by the service's own
 * renderer (SMTP delivery itself is proven by scripts/test/mail.system.test.ts).
 */
describe('email verification and password reset', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_recovery', {
      // Nothing listens there: the sender keeps retrying; these tests read the queue instead.
      SMTP_URL: 'smtp://127.0.0.1:1',
      SMTP_CONNECT_TIMEOUT_MS: '200',
      PASSWORD_RESET_LIMIT_PER_EMAIL: '3',
    });
  });
  afterAll(async () => {
    await world?.stop();
  });

  /** The link the mail of `kind` for this user carries, once the policy has queued it. */
  async function mailedToken(userId: string, kind: string, after = 0): Promise<string> {
    const { db } = world.service.context;
    const rows = await eventually(`a ${kind} mail for ${userId}`, async () => {
      const { rows } = await sql<{ key: string; payload: Record<string, unknown> }>`
        SELECT key, payload FROM mail_outbox
        WHERE kind = ${kind} AND payload->>'userId' = ${userId}
        ORDER BY created_at`.execute(db);
      if (rows.length <= after) throw new Error(`${rows.length} so far`);
      return rows;
    });
    const rendered = await userMailRenderers(world.service.context)[kind]!(rows[after]!.payload);
    if ('skip' in rendered) throw new Error(`skipped: ${rendered.skip}`);
    const match = /token=([^\s]+)/.exec(rendered.text);
    return decodeURIComponent(match![1]!);
  }

  test('when a user signs up, then a verification link is mailed, works once, and the event keeps only its hash', async () => {
    const user = await registerUser(world.url);
    const token = await mailedToken(user.userId, 'verify-email');

    await request(world.url).post('/auth/verify-email').send({ token }).expect(204);
    const again = await request(world.url).post('/auth/verify-email').send({ token });
    expect(again.status).toBe(410);
    expect(again.body.type).toMatch(/\/token-used$/);

    const { store } = world.service.context;
    const events = await store.readStream(`user-tokens-${user.userId}`);
    // Not the profile's stream: its revision is the profile's ETag, which links leave alone.
    expect(await store.readStream(`user-${user.userId}`)).toHaveLength(1);
    const stored = JSON.stringify(events.map((e) => e.data));
    expect(stored).toContain('tokenHash');
    expect(stored).not.toContain(token);
    expect(world.logText()).not.toContain(token);
  });

  test('when the token is malformed or forged, then 400 naming token', async () => {
    const bad = await request(world.url).post('/auth/verify-email').send({ token: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('token');
    const user = await registerUser(world.url);
    const token = await mailedToken(user.userId, 'verify-email');
    const forged = `${token.slice(0, -4)}AAAA`;
    const refused = await request(world.url).post('/auth/verify-email').send({ token: forged });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].field).toBe('token');
  });

  test('when a reset is asked for an unknown address, then 202 as for a known one, and no mail', async () => {
    const unknown = uniqueEmail('nobody');
    await request(world.url).post('/auth/password-reset').send({ email: unknown }).expect(202);
    const { rows } = await sql`
      SELECT 1 FROM mail_outbox WHERE kind = 'password-reset'
        AND payload::text LIKE ${`%${unknown}%`}`.execute(world.service.context.db);
    expect(rows).toHaveLength(0);
  });

  test('when the reset link is used, then the new password works, every session ends, and the link is refused the second time', async () => {
    const user = await registerUser(world.url);
    const other = await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    await request(world.url).post('/auth/password-reset').send({ email: user.email }).expect(202);
    const token = await mailedToken(user.userId, 'password-reset');

    const weak = await request(world.url)
      .post('/auth/password-reset/confirm')
      .send({ token, newPassword: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.errors[0].field).toBe('newPassword');

    const newPassword = strongPassword();
    await request(world.url)
      .post('/auth/password-reset/confirm')
      .send({ token, newPassword })
      .expect(204);

    const second = await request(world.url)
      .post('/auth/password-reset/confirm')
      .send({ token, newPassword: strongPassword() });
    expect(second.status).toBe(410);
    expect(second.body.type).toMatch(/\/token-used$/);

    // The sessions of before: their tokens and refresh tokens are refused.
    await request(world.url)
      .get('/auth/sessions')
      .set('Authorization', user.authorization)
      .expect(401);
    await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: (other.body as { refreshToken: string }).refreshToken })
      .expect(401);
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(401);
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: newPassword })
      .expect(200);
  });

  test('when a stranger asks for a reset, then the owner’s profile ETag stays and their If-Match still works', async () => {
    const user = await registerUser(world.url);
    const before = await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .expect(200);
    await request(world.url).post('/auth/password-reset').send({ email: user.email }).expect(202);
    await mailedToken(user.userId, 'password-reset');
    const after = await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(after.headers.etag).toBe(before.headers.etag);
    await request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization)
      .set('If-Match', String(before.headers.etag))
      .send({ displayName: 'Still mine' })
      .expect(200);
  });

  test('when two reset links were mailed and one is used, then the other is void', async () => {
    const user = await registerUser(world.url);
    await request(world.url).post('/auth/password-reset').send({ email: user.email }).expect(202);
    const first = await mailedToken(user.userId, 'password-reset');
    await request(world.url).post('/auth/password-reset').send({ email: user.email }).expect(202);
    const second = await mailedToken(user.userId, 'password-reset', 1);
    await request(world.url)
      .post('/auth/password-reset/confirm')
      .send({ token: second, newPassword: strongPassword() })
      .expect(204);
    const stale = await request(world.url)
      .post('/auth/password-reset/confirm')
      .send({ token: first, newPassword: strongPassword() });
    expect(stale.status).toBe(410);
  });

  test('when resets for one address come too often, then 429 with Retry-After, whether or not it has an account', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 3; i += 1)
      await request(world.url).post('/auth/password-reset').send({ email }).expect(202);
    const limited = await request(world.url).post('/auth/password-reset').send({ email });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});

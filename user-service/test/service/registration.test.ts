import { eventually } from '@meetmatt/infra/testing';
import request from 'supertest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { accessTokenDefaults, services, userEventTypes } from '@meetmatt/contracts';
import {
  type UserWorld,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
  fromGateway,
} from '../support/world';

describe('registration and login', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_reg', {
      // Costly enough that a login which skipped the hash would stand out in the timing test.
      PASSWORD_SCRYPT_LOG_N: '14',
      LOGIN_FAILURES_BEFORE_DELAY: '3',
      // Once the way to make an admin: now ignored.
      ADMIN_EMAILS: 'root@ops.example.com',
    });
  });

  afterAll(async () => {
    await world?.stop();
  });

  test('when someone registers, then 201 with the user, a 15-minute EdDSA token and a refresh token', async () => {
    const email = uniqueEmail('Ada');
    const res = await request(world.url)
      .post('/auth/register')
      .send({ email: email.toUpperCase(), password: strongPassword(), displayName: 'Ada' });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      user: {
        id: expect.any(String),
        email: email.toLowerCase(),
        displayName: 'Ada',
        role: 'user',
        createdAt: expect.any(String),
        billing: null,
      },
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
    });
    const claims = decodeJwt(res.body.accessToken);
    expect(claims).toMatchObject({
      sub: res.body.user.id,
      role: 'user',
      sid: expect.any(String),
      iss: accessTokenDefaults.issuer,
      aud: accessTokenDefaults.audience,
    });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(decodeProtectedHeader(res.body.accessToken)).toMatchObject({
      alg: 'EdDSA',
      kid: expect.any(String),
    });
    // read your write: the profile is there at once
    const me = await request(world.url)
      .get(`/users/${res.body.user.id}`)
      .set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(email.toLowerCase());
  });

  test('when no display name is given, then the local part of the email is used', async () => {
    const email = uniqueEmail('grace');
    const res = await request(world.url)
      .post('/auth/register')
      .send({ email, password: strongPassword() })
      .expect(201);
    expect(res.body.user.displayName).toBe(email.split('@')[0]);
  });

  test('when the email is registered already in another case, then 409', async () => {
    const user = await registerUser(world.url);
    const res = await request(world.url)
      .post('/auth/register')
      .send({ email: `  ${user.email.toUpperCase()}`.trim(), password: strongPassword() });
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 409, type: expect.stringMatching(/email-taken$/) });
  });

  test('when two registrations of one email race, then exactly one wins and the other gets 409', async () => {
    const email = uniqueEmail('race');
    const passwords = Array.from({ length: 5 }, () => strongPassword());
    const attempts = await Promise.all(
      passwords.map((password) =>
        request(world.url).post('/auth/register').send({ email, password }),
      ),
    );
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const winner = attempts.findIndex((r) => r.status === 201);
    // the account is the winner's: its password signs in, to its user id
    const login = await request(world.url)
      .post('/auth/login')
      .send({ email, password: passwords[winner] })
      .expect(200);
    expect(login.body.user.id).toBe(attempts[winner]!.body.user.id);
  });

  test('when an address once listed in ADMIN_EMAILS registers, then the user is a plain user', async () => {
    const res = await request(world.url)
      .post('/auth/register')
      .send({ email: 'Root@Ops.example.com', password: strongPassword() })
      .expect(201);
    expect(res.body.user.role).toBe('user');
    expect(decodeJwt(res.body.accessToken).role).toBe('user');
  });

  test.each([
    [{ password: 'long-enough-password' }, 'email'],
    [{ email: 'not-an-email', password: 'long-enough-password' }, 'email'],
    [{ email: 'a@example.com', password: 'short' }, 'password'],
    [{ email: 'a@example.com', password: 'x'.repeat(257) }, 'password'],
    [{ email: 'a@example.com', password: 'long-enough-password', displayName: '' }, 'displayName'],
    [{ email: 'a@example.com', password: 123456789012 }, 'password'],
  ])('when the body is %j, then 400 naming %s', async (body, field) => {
    const res = await request(world.url).post('/auth/register').send(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, in: 'body' })]),
    );
  });

  test('when a user signs in, then 200 with new tokens for a new session', async () => {
    const user = await registerUser(world.url);
    const res = await request(world.url)
      .post('/auth/login')
      .set('User-Agent', 'jest-agent/1.0')
      .send({ email: user.email.toUpperCase(), password: user.password });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: user.userId, email: user.email });
    expect(decodeJwt(res.body.accessToken).sid).not.toBe(decodeJwt(user.accessToken).sid);
    const sessions = await request(world.url)
      .get('/auth/sessions')
      .set('Authorization', `Bearer ${res.body.accessToken}`)
      .expect(200);
    expect(sessions.body.sessions).toHaveLength(2);
    expect(sessions.body.sessions[0]).toMatchObject({
      id: decodeJwt(res.body.accessToken).sid,
      userAgent: 'jest-agent/1.0',
      current: true,
      ip: expect.any(String),
    });
  });

  test('when the email is unknown or the password wrong, then the same 401 in about the same time', async () => {
    const user = await registerUser(world.url);
    const wrongPassword = () =>
      request(world.url)
        .post('/auth/login')
        .send({ email: user.email, password: 'wrong-password-1' });
    const unknownEmail = () =>
      request(world.url)
        .post('/auth/login')
        .send({ email: uniqueEmail('nobody'), password: 'wrong-password-1' });
    const a = await wrongPassword();
    const b = await unknownEmail();
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    expect(strip(a.body)).toEqual(strip(b.body));
    expect(a.headers['www-authenticate']).toBe(b.headers['www-authenticate']);
    // Both spend one scrypt verification (2^14 here, which dominates the rest): compare medians
    // of seven tries each, interleaved, a fresh email each time so the throttle does not step in
    // (fewer were at the mercy of whatever else the machine ran at that moment).
    const time = async (fn: () => Promise<unknown>) => {
      const started = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      const other = await registerUser(world.url);
      known.push(
        await time(() =>
          request(world.url)
            .post('/auth/login')
            .send({ email: other.email, password: 'wrong-password-1' }),
        ),
      );
      unknown.push(await time(unknownEmail));
    }
    const ratio = median(known) / median(unknown);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  test('when one account keeps failing, then it is slowed down with 429 and Retry-After, and a success resets it', async () => {
    const user = await registerUser(world.url);
    const attempt = (password: string) =>
      request(world.url).post('/auth/login').send({ email: user.email, password });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong-password-1')).status).toBe(401);
    const blocked = await attempt(user.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(blocked.body).toMatchObject({ status: 429 });
    // another account is not affected
    const other = await registerUser(world.url);
    await request(world.url)
      .post('/auth/login')
      .send({ email: other.email, password: other.password })
      .expect(200);
    // once the delay has passed, the right password gets in
    const ok = await eventually(
      'the sign-in to succeed',
      async () => {
        const res = await attempt(user.password);
        expect(res.status).toBe(200);
        return res;
      },
      5_000,
    );
    expect(ok.body.user.id).toBe(user.userId);
    expect((await attempt('wrong-password-1')).status).toBe(401);
  });

  test('when an unknown email keeps failing, then it is throttled the same way', async () => {
    const email = uniqueEmail('ghost');
    const attempt = () =>
      request(world.url).post('/auth/login').send({ email, password: 'wrong-password-1' });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
  });

  test('when another instance starts on the same database, then it signs with the same development key and accepts earlier tokens', async () => {
    const user = await registerUser(world.url);
    const other = await world.startAnother();
    const [here, there] = await Promise.all([
      request(world.url).get('/.well-known/jwks.json').expect(200),
      request(other.url).get('/.well-known/jwks.json').expect(200),
    ]);
    expect(there.body).toEqual(here.body);
    expect(here.body.keys).toHaveLength(1);
    const res = await request(other.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(res.headers['x-user-id']).toBe(user.userId);
    await other.stop();
  });

  test('when passwords and tokens went through the service, then none of them was logged', async () => {
    const user = await registerUser(world.url);
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password });
    await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: 'wrong-password-9' });
    const logged = world.logText();
    expect(logged).toContain('"route":"/auth/login"');
    for (const secret of [user.password, 'wrong-password-9', user.accessToken, user.refreshToken])
      expect(logged).not.toContain(secret);
  });

  test('when a user registers, then user.registered is published on user.events without secrets', async () => {
    const connection = await world.broker();
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, services.user.exchange, 'user.#');
    const user = await registerUser(world.url);
    const received: { type: string; data: Record<string, unknown>; subject: string }[] = [];
    await channel.consume(
      queue,
      (message) => {
        if (message) received.push(JSON.parse(message.content.toString()));
      },
      { noAck: true },
    );
    await eventually('the registration events on the bus', () => {
      const registered = received.find(
        (e) => e.type === userEventTypes.registered && e.data.userId === user.userId,
      );
      expect(registered).toMatchObject({
        subject: `user-${user.userId}`,
        data: { email: user.email, displayName: user.displayName, role: 'user' },
      });
      expect(received.map((e) => e.type)).toEqual(
        expect.arrayContaining([userEventTypes.emailReserved, userEventTypes.sessionStarted]),
      );
    });
    const text = JSON.stringify(received);
    expect(text).not.toContain(user.password);
    expect(text).not.toContain(user.refreshToken);
    expect(text).not.toMatch(/\$scrypt\$/);
    await channel.close();
  });
});

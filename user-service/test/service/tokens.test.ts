import { eventually } from '@meetmatt/infra/testing';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  type JWTPayload,
  SignJWT,
  base64url,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
} from 'jose';
import { accessTokenDefaults } from '@meetmatt/contracts';
import { type PrivateSigningJwk } from '../../src/config';
import { generateSigningJwk } from '../../src/application/signing-keys';
import { type RunningUserService } from '../../src/main';
import {
  type RegisteredUser,
  type UserWorld,
  registerUser,
  startWorld,
  fromGateway,
} from '../support/world';

async function sign(
  jwk: PrivateSigningJwk,
  claims: JWTPayload,
  options: { kid?: string; expiresIn?: string | number; issuer?: string; audience?: string } = {},
): Promise<string> {
  const key = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: options.kid ?? jwk.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? accessTokenDefaults.issuer)
    .setAudience(options.audience ?? accessTokenDefaults.audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '15m')
    .sign(key);
}

const verify = (url: string, authorization?: string) => {
  const req = request(url).get('/auth/verify').set(fromGateway);
  return authorization ? req.set('Authorization', authorization) : req;
};

describe('access tokens, refresh tokens and sessions', () => {
  let world: UserWorld;
  let oldKey: PrivateSigningJwk;
  let newKey: PrivateSigningJwk;
  let other: RunningUserService;

  beforeAll(async () => {
    oldKey = await generateSigningJwk();
    newKey = await generateSigningJwk();
    world = await startWorld('user_tokens', {
      AUTH_SIGNING_KEYS: JSON.stringify({ keys: [oldKey, newKey] }),
    });
    other = await world.startAnother();
  });

  afterAll(async () => {
    await world?.stop();
  });

  const claimsOf = (user: RegisteredUser) => ({
    sub: user.userId,
    role: 'user',
    sid: decodeJwt(user.accessToken).sid as string,
  });

  test('when the key set is fetched, then it has every configured key, public parts only, and the newest signs', async () => {
    const res = await request(world.url).get('/.well-known/jwks.json').expect(200);
    expect((res.body.keys as { kid: string }[]).map((k) => k.kid)).toEqual([
      oldKey.kid,
      newKey.kid,
    ]);
    for (const key of res.body.keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
    const user = await registerUser(world.url);
    expect(decodeProtectedHeader(user.accessToken).kid).toBe(newKey.kid);
  });

  test('when a valid token is verified, then 200 with the identity headers', async () => {
    const user = await registerUser(world.url);
    const res = await verify(world.url, user.authorization).expect(200);
    expect(res.headers['x-user-id']).toBe(user.userId);
    expect(res.headers['x-user-role']).toBe('user');
    expect(res.headers['x-access-token']).toBeUndefined();
  });

  test('when a token was signed by the older key still published, then it is accepted (rotation)', async () => {
    const user = await registerUser(world.url);
    const token = await sign(oldKey, claimsOf(user));
    await verify(world.url, `Bearer ${token}`).expect(200);
    await request(world.url)
      .get(`/users/${user.userId}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
  });

  describe('refused tokens', () => {
    let user: RegisteredUser;
    beforeAll(async () => {
      user = await registerUser(world.url);
    });

    const cases: [string, () => Promise<string>][] = [
      [
        'tampered (another subject, same signature)',
        async () => {
          const [header, , signature] = user.accessToken.split('.');
          const payload = { ...decodeJwt(user.accessToken), sub: randomUUID(), role: 'admin' };
          return `${header}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
        },
      ],
      [
        'expired',
        () => sign(newKey, claimsOf(user), { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      ],
      [
        'alg none',
        async () => {
          const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
          return `${header}.${user.accessToken.split('.')[1]}.`;
        },
      ],
      [
        'signed by a foreign key under a published kid',
        async () => sign(await generateSigningJwk(), claimsOf(user), { kid: newKey.kid }),
      ],
      [
        'signed by a foreign key with its own kid',
        async () => sign(await generateSigningJwk(), claimsOf(user)),
      ],
      [
        'HS256 with the public key as the secret',
        async () => {
          const secret = new TextEncoder().encode(newKey.x);
          return new SignJWT(claimsOf(user))
            .setProtectedHeader({ alg: 'HS256', kid: newKey.kid })
            .setIssuer(accessTokenDefaults.issuer)
            .setAudience(accessTokenDefaults.audience)
            .setIssuedAt()
            .setExpirationTime('15m')
            .sign(secret);
        },
      ],
      [
        'for another issuer',
        () => sign(newKey, claimsOf(user), { issuer: 'https://evil.example.com' }),
      ],
      ['for another audience', () => sign(newKey, claimsOf(user), { audience: 'someone-else' })],
      ['without a session claim', () => sign(newKey, { sub: user.userId, role: 'user' })],
      ['not a JWT at all', async () => 'not.a.jwt'],
    ];

    test.each(cases)(
      'when the token is %s, then /auth/verify and the API answer 401',
      async (_what, make) => {
        const token = await make();
        const res = await verify(world.url, `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(res.headers['x-user-id']).toBeUndefined();
        await request(world.url)
          .get(`/users/${user.userId}`)
          .set('Authorization', `Bearer ${token}`)
          .expect(401);
      },
    );

    test.each([
      ['no Authorization header', undefined],
      ['an empty bearer', 'Bearer '],
      ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ])('when there is %s, then 401', async (_what, header) => {
      const res = await verify(world.url, header);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });
  });

  test('when a refresh token is used, then new tokens come back for the same session and it cannot be used again', async () => {
    const user = await registerUser(world.url);
    const first = await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: user.refreshToken })
      .expect(200);
    expect(first.body.refreshToken).not.toBe(user.refreshToken);
    expect(first.body.user.id).toBe(user.userId);
    expect(decodeJwt(first.body.accessToken).sid).toBe(decodeJwt(user.accessToken).sid);
    const second = await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: first.body.refreshToken })
      .expect(200);
    await verify(world.url, `Bearer ${second.body.accessToken}`).expect(200);
  });

  test('when a used refresh token comes back, then 401 and the whole session is revoked at once', async () => {
    const user = await registerUser(world.url);
    const rotated = await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: user.refreshToken })
      .expect(200);
    await verify(world.url, `Bearer ${rotated.body.accessToken}`).expect(200);

    const reuse = await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: user.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.detail).toMatch(/already used/);
    // every token of the session is refused, here at once and by the other instance shortly
    await verify(world.url, user.authorization).expect(401);
    await verify(world.url, `Bearer ${rotated.body.accessToken}`).expect(401);
    await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: rotated.body.refreshToken })
      .expect(401);
    await eventually('the other instance to refuse the rotated token', () =>
      verify(other.url, `Bearer ${rotated.body.accessToken}`).expect(401),
    );
    // signing in again opens a new session that works
    const again = await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    await verify(world.url, `Bearer ${again.body.accessToken}`).expect(200);
  });

  test('when two refreshes with one token race, then one gets new tokens and the session ends', async () => {
    const user = await registerUser(world.url);
    const results = await Promise.all([
      request(world.url).post('/auth/refresh').send({ refreshToken: user.refreshToken }),
      request(world.url).post('/auth/refresh').send({ refreshToken: user.refreshToken }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    await verify(world.url, user.authorization).expect(401);
  });

  test('when the refresh token is unknown or missing, then 401 or 400', async () => {
    await request(world.url).post('/auth/refresh').send({ refreshToken: 'nope' }).expect(401);
    const res = await request(world.url).post('/auth/refresh').send({});
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'refreshToken', in: 'body' });
  });

  test('when a user logs out, then that session is refused at once here and soon on the other instance, and the others go on', async () => {
    const user = await registerUser(world.url);
    const second = await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    await verify(other.url, user.authorization).expect(200);
    await request(world.url)
      .post('/auth/logout')
      .set('Authorization', user.authorization)
      .send({})
      .expect(204);
    await verify(world.url, user.authorization).expect(401);
    await eventually(
      'the other instance to refuse the revoked token',
      () => verify(other.url, user.authorization).expect(401),
      5_000,
    );
    await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: user.refreshToken })
      .expect(401);
    await verify(world.url, `Bearer ${second.body.accessToken}`).expect(200);
    const sessions = await request(world.url)
      .get('/auth/sessions')
      .set('Authorization', `Bearer ${second.body.accessToken}`)
      .expect(200);
    expect((sessions.body.sessions as { id: string }[]).map((s) => s.id)).toEqual([
      decodeJwt(second.body.accessToken).sid,
    ]);
  });

  test('when a user logs out everywhere, then every session is refused', async () => {
    const user = await registerUser(world.url);
    const second = await request(world.url)
      .post('/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    await request(world.url)
      .post('/auth/logout')
      .set('Authorization', `Bearer ${second.body.accessToken}`)
      .send({ all: true })
      .expect(204);
    await verify(world.url, user.authorization).expect(401);
    await verify(world.url, `Bearer ${second.body.accessToken}`).expect(401);
    await request(world.url)
      .post('/auth/refresh')
      .send({ refreshToken: user.refreshToken })
      .expect(401);
  });

  test('when a user ends one of their sessions, then its token is refused; another user’s session is 404', async () => {
    const user = await registerUser(world.url);
    const laptop = await request(world.url)
      .post('/auth/login')
      .set('User-Agent', 'laptop')
      .send({ email: user.email, password: user.password })
      .expect(200);
    const list = await request(world.url)
      .get('/auth/sessions')
      .set('Authorization', user.authorization)
      .expect(200);
    expect(list.body.sessions).toHaveLength(2);
    const laptopSession = decodeJwt(laptop.body.accessToken).sid as string;
    expect(
      (list.body.sessions as { id: string }[]).find((s) => s.id === laptopSession),
    ).toMatchObject({
      userAgent: 'laptop',
      current: false,
    });

    const intruder = await registerUser(world.url);
    await request(world.url)
      .delete(`/auth/sessions/${laptopSession}`)
      .set('Authorization', intruder.authorization)
      .expect(404);
    await verify(world.url, `Bearer ${laptop.body.accessToken}`).expect(200);

    await request(world.url)
      .delete(`/auth/sessions/${laptopSession}`)
      .set('Authorization', user.authorization)
      .expect(204);
    await verify(world.url, `Bearer ${laptop.body.accessToken}`).expect(401);
    await request(world.url)
      .delete(`/auth/sessions/${randomUUID()}`)
      .set('Authorization', user.authorization)
      .expect(404);
    await request(world.url)
      .delete('/auth/sessions/not-a-uuid')
      .set('Authorization', user.authorization)
      .expect(400);
  });

  test('when an instance starts after a revocation, then it refuses the revoked session too', async () => {
    const user = await registerUser(world.url);
    await request(world.url)
      .post('/auth/logout')
      .set('Authorization', user.authorization)
      .send({})
      .expect(204);
    const late = await world.startAnother();
    await verify(late.url, user.authorization).expect(401);
  });
});

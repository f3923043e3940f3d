import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { RevocationList, TokenVerifier } from '@meetmatt/infra';
import { sleep } from '@meetmatt/infra/runtime/backoff';

const issuer = 'https://auth.meetmatt.test';
const audience = 'meetmatt-api';

interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', {
    crv: 'Ed25519',
    extractable: true,
  });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

function sign(
  key: KeyPair,
  claims: Record<string, unknown> = {},
  options: { expiresIn?: string; iss?: string; aud?: string } = {},
) {
  return new SignJWT({ role: 'user', sid: 'session-1', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.jwk.kid! })
    .setSubject('user-1')
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '15m')
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('token verifier (remote JWKS over HTTP)', () => {
  let server: Server;
  let published: JWK[];
  let fetches = 0;
  let current: KeyPair;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    current = await keyPair('k1');
    published = [current.jwk];
    server = createServer((_req, res) => {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    verifier = new TokenVerifier({
      issuer,
      audience,
      jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      cooldownMs: 50,
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test('when the token is valid, then the principal carries user, role, session and the token', async () => {
    const token = await sign(current, { role: 'admin' });
    expect(await verifier.verify(token)).toEqual({
      ok: true,
      principal: { userId: 'user-1', role: 'admin', sessionId: 'session-1', token },
    });
  });

  test('when verifying again, then the keys come from the cache', async () => {
    const before = fetches;
    await verifier.verify(await sign(current));
    await verifier.verify(await sign(current));
    expect(fetches).toBe(before);
  });

  test('when a payload byte is tampered with, then it is refused', async () => {
    const [header, , signature] = (await sign(current)).split('.');
    const forged = `${header}.${b64({ sub: 'user-2', role: 'admin', sid: 's', iss: issuer, aud: audience, exp: 9_999_999_999, iat: 1 })}.${signature}`;
    expect(await verifier.verify(forged)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('when the token says alg none, then it is refused', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'user-1', role: 'admin', sid: 's', iss: issuer, aud: audience, exp: 9_999_999_999, iat: 1 })}.`;
    expect(await verifier.verify(none)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('when the token is HS256 signed with the public key as secret, then it is refused', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(current.jwk));
    const hs = await new SignJWT({ role: 'admin', sid: 's' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('user-1')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    expect(await verifier.verify(hs)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('when the issuer or audience is wrong, then it is refused', async () => {
    expect((await verifier.verify(await sign(current, {}, { iss: 'https://evil.test' }))).ok).toBe(
      false,
    );
    expect((await verifier.verify(await sign(current, {}, { aud: 'other-api' }))).ok).toBe(false);
  });

  test('when the token has expired, then it is refused as expired', async () => {
    const token = await new SignJWT({ role: 'user', sid: 's' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setSubject('user-1')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3_600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(current.privateKey);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  test('when a foreign key signed it, then it is refused', async () => {
    const foreign = await keyPair('k1');
    expect((await verifier.verify(await sign(foreign))).ok).toBe(false);
  });

  test('when claims are missing or malformed, then it is refused', async () => {
    expect((await verifier.verify(await sign(current, { role: 'superuser' }))).ok).toBe(false);
    expect((await verifier.verify(await sign(current, { sid: undefined }))).ok).toBe(false);
    expect(await verifier.verify(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifier.verify('not-a-jwt')).toEqual({ ok: false, reason: 'invalid' });
  });

  test('when the keys rotate, then a token with the new kid is accepted after a refetch', async () => {
    const next = await keyPair('k2');
    published = [current.jwk, next.jwk];
    const before = fetches;
    // jose refetches for an unknown kid at most once per cooldown (50 ms here)
    await sleep(60);
    expect((await verifier.verify(await sign(next))).ok).toBe(true);
    expect(fetches).toBe(before + 1);
  });
});

describe('token verifier with a revocation list', () => {
  let key: KeyPair;
  let revocations: RevocationList;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    key = await keyPair('k1');
  });
  beforeEach(() => {
    revocations = new RevocationList(900);
    verifier = TokenVerifier.fromJwks({ keys: [key.jwk] }, { issuer, audience, revocations });
  });
  afterEach(() => revocations.stop());

  test('when the session of the token is revoked, then the token is refused as revoked', async () => {
    const token = await sign(key, { sid: 'session-a' });
    expect((await verifier.verify(token)).ok).toBe(true);
    revocations.add('session-a', new Date());
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('when the API key a token was minted from is revoked, then the token is refused as revoked', async () => {
    const token = await sign(key, { sid: 'key-a', akid: 'key-a' });
    expect(await verifier.verify(token)).toEqual({
      ok: true,
      principal: { userId: 'user-1', role: 'user', sessionId: 'key-a', apiKeyId: 'key-a', token },
    });
    revocations.add('key-a', new Date());
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('when only the akid names the revoked key, then the token is refused all the same', async () => {
    const token = await sign(key, { sid: 'session-b', akid: 'key-b' });
    revocations.add('key-b', new Date());
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('when another session or key is revoked, then the token still verifies', async () => {
    revocations.add('session-other', new Date());
    revocations.add('key-other', new Date());
    const token = await sign(key, { sid: 'session-c', akid: 'key-c' });
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  test('when a token is meant to live longer than revocations are kept, then it is refused', async () => {
    const token = await sign(key, { sid: 'session-d' }, { expiresIn: '16m' });
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
    expect((await verifier.verify(await sign(key, { sid: 'session-d' }))).ok).toBe(true);
  });
});

describe('revocation list', () => {
  test('when the revocation is older than the longest token life and the margin, then it is forgotten', () => {
    let now = Date.parse('2026-12-02T10:00:00Z');
    const list = new RevocationList(300, () => now);
    list.add('session-1', new Date(now));
    // A revocation whose tokens have all expired is not even kept.
    list.add('session-old', new Date(now - 366_000));
    expect([list.has('session-1'), list.has('session-old')]).toEqual([true, false]);
    now += 364_000;
    expect(list.has('session-1')).toBe(true);
    now += 2_000;
    list.prune();
    expect([list.has('session-1'), list.size]).toEqual([false, 0]);
    list.stop();
  });

  test('when the same revocation arrives twice, then it is one entry', () => {
    const list = new RevocationList(300);
    const at = new Date();
    list.add('key-1', at);
    list.add('key-1', at.toISOString());
    expect(list.size).toBe(1);
    list.stop();
  });
});

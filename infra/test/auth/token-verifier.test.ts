import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { TokenVerifier } from '@meetmatt/infra';

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
    await new Promise((r) => setTimeout(r, 60));
    expect((await verifier.verify(await sign(next))).ok).toBe(true);
    expect(fetches).toBe(before + 1);
  });
});

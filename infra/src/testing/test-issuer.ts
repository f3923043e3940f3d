import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { accessTokenDefaults } from '@meetmatt/contracts';

export interface TestUser {
  userId: string;
  role: 'user' | 'admin';
  sessionId: string;
  token: string;
  /** `Bearer <token>`, for an Authorization header. */
  authorization: string;
}

/**
 * A stand-in for user-service's token issuing, for component tests of the other services:
 * a real Ed25519 key, its JWKS served over real HTTP, and real signed access tokens.
 */
export class TestIssuer {
  private constructor(
    private readonly server: Server,
    private readonly privateKey: CryptoKey,
    private readonly kid: string,
    readonly jwksUrl: string,
    readonly issuer: string,
    readonly audience: string,
  ) {}

  static async start(options: { issuer?: string; audience?: string } = {}): Promise<TestIssuer> {
    const kid = randomUUID();
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', {
      crv: 'Ed25519',
      extractable: true,
    });
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new TestIssuer(
      server,
      privateKey,
      kid,
      `http://127.0.0.1:${port}/.well-known/jwks.json`,
      options.issuer ?? accessTokenDefaults.issuer,
      options.audience ?? accessTokenDefaults.audience,
    );
  }

  /** Environment for a service under test, so it trusts this issuer. */
  get env(): Record<string, string> {
    return { AUTH_JWKS_URL: this.jwksUrl, AUTH_ISSUER: this.issuer, AUTH_AUDIENCE: this.audience };
  }

  async user(
    overrides: Partial<Omit<TestUser, 'token' | 'authorization'>> & { expiresIn?: string } = {},
  ): Promise<TestUser> {
    const userId = overrides.userId ?? randomUUID();
    const role = overrides.role ?? 'user';
    const sessionId = overrides.sessionId ?? randomUUID();
    const token = await new SignJWT({ role, sid: sessionId })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.kid, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setExpirationTime(overrides.expiresIn ?? '15m')
      .sign(this.privateKey);
    return { userId, role, sessionId, token, authorization: `Bearer ${token}` };
  }

  admin(): Promise<TestUser> {
    return this.user({ role: 'admin' });
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }
}

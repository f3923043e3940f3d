import { SignJWT, decodeJwt } from 'jose';
import { type Request } from 'express';
import { type Role } from '@meetmatt/contracts';
import {
  type Authenticator,
  type Principal,
  type TokenVerifier,
  bearerToken,
} from '@meetmatt/infra';
import { type KeyRing } from './signing-keys';
import { type Revocations } from './revocations';

export interface AccessTokenClaims {
  userId: string;
  role: Role;
  /** The session, or the API key for tokens handed out in exchange for one. */
  sessionId: string;
  /** For tokens handed out in exchange for an API key (claim `akid`): revoking the key ends them. */
  apiKeyId?: string;
}

export type CheckedToken =
  | { ok: true; principal: Principal; expiresAtMs: number }
  | { ok: false; reason: 'missing' | 'expired' | 'invalid' | 'revoked' | 'unavailable' };

const CLOCK_TOLERANCE_MS = 5_000;

/**
 * Signs access tokens, and checks them for every endpoint and for /auth/verify: the shared
 * TokenVerifier (EdDSA only, issuer, audience, expiry) against the local key set, then the
 * in-memory list of revoked sessions and API keys. No database round trip. A token that verified once is
 * remembered until it expires (a different string is a different token, so a tampered one is
 * verified afresh), which spares the signature check on the hot path.
 */
export class AccessTokens implements Authenticator {
  private readonly verified = new Map<string, { principal: Principal; expiresAtMs: number }>();
  private readonly perRequest = new WeakMap<Request, Promise<Principal | null>>();

  constructor(
    private readonly keys: KeyRing,
    private readonly verifier: TokenVerifier,
    private readonly revocations: Revocations,
    private readonly options: { issuer: string; audience: string; maxCached?: number },
  ) {}

  async sign(claims: AccessTokenClaims, ttlSeconds: number): Promise<string> {
    const akid = claims.apiKeyId ? { akid: claims.apiKeyId } : {};
    return new SignJWT({ role: claims.role, sid: claims.sessionId, ...akid })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keys.kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.keys.privateKey);
  }

  async check(token: string | undefined): Promise<CheckedToken> {
    if (!token) return { ok: false, reason: 'missing' };
    const now = Date.now();
    let known = this.verified.get(token);
    if (known && now > known.expiresAtMs + CLOCK_TOLERANCE_MS) {
      this.verified.delete(token);
      return { ok: false, reason: 'expired' };
    }
    if (!known) {
      const result = await this.verifier.verify(token);
      if (!result.ok) return result;
      const exp = decodeJwt(token).exp;
      known = { principal: result.principal, expiresAtMs: (exp ?? 0) * 1000 };
      this.remember(token, known);
    }
    const { sessionId, apiKeyId } = known.principal;
    if (this.revocations.has(sessionId) || (apiKeyId && this.revocations.has(apiKeyId)))
      return { ok: false, reason: 'revoked' };
    return { ok: true, ...known };
  }

  /** The principal of a request's bearer JWT (API keys are /auth/verify's business). */
  authenticate(req: Request): Promise<Principal | null> {
    let pending = this.perRequest.get(req);
    if (!pending) {
      const token = bearerToken(req);
      pending =
        token && !token.startsWith('mm_')
          ? this.check(token).then((r) => (r.ok ? r.principal : null))
          : Promise.resolve(null);
      this.perRequest.set(req, pending);
    }
    return pending;
  }

  private remember(token: string, entry: { principal: Principal; expiresAtMs: number }): void {
    const max = this.options.maxCached ?? 50_000;
    if (this.verified.size >= max) {
      // Insertion order: the oldest entries go first.
      let drop = Math.ceil(max / 10);
      for (const key of this.verified.keys()) {
        this.verified.delete(key);
        if (--drop <= 0) break;
      }
    }
    this.verified.set(token, entry);
  }
}

import { type Request } from 'express';
import {
  type JWTVerifyGetKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
} from 'jose';
import { z } from 'zod';
import { RoleSchema } from '@meetmatt/contracts';
import { type Authenticator, type Principal, bearerToken } from '../http/auth';
import { type RevocationCheck } from './revocation-list';

/** The only signing algorithm we accept: `alg: none`, HS256 with the public key as secret, RS256… are refused. */
export const ACCESS_TOKEN_ALGORITHM = 'EdDSA';

export const AccessTokenClaimsSchema = z.object({
  sub: z.string().min(1),
  role: RoleSchema,
  sid: z.string().min(1),
  /** The API key a token was minted from by /auth/verify. */
  akid: z.string().min(1).optional(),
});

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Where user-service publishes its keys (`/.well-known/jwks.json`)… */
  jwksUrl?: string;
  /** …or the key set itself (user-service verifying its own tokens). */
  keys?: JWTVerifyGetKey;
  /** How long fetched keys are trusted before a refetch (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /** The least time between two fetches prompted by an unknown `kid` (default 5 s). */
  cooldownMs?: number;
  /** Clock tolerance for exp/nbf, seconds. */
  clockToleranceSeconds?: number;
  /** Revoked sessions and API keys: their tokens are refused although their signature holds. */
  revocations?: RevocationCheck;
}

export type VerifyResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'missing' | 'expired' | 'invalid' | 'revoked' | 'unavailable' };

/**
 * Verifies access tokens the way every service does: EdDSA only, issuer and audience checked,
 * expiry enforced, keys from user-service's JWKS (fetched, cached, refetched on an unknown `kid`,
 * which is how key rotation reaches us); then, given a revocation list, a token of a revoked
 * session (`sid`) or API key (`akid`) is refused, and so is one living longer than the list
 * keeps its entries (it would come back to life once its revocation was forgotten).
 */
export class TokenVerifier implements Authenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.keys) this.keys = options.keys;
    else if (options.jwksUrl) {
      this.keys = createRemoteJWKSet(new URL(options.jwksUrl), {
        cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
        cooldownDuration: options.cooldownMs ?? 5_000,
        timeoutDuration: 3_000,
      });
    } else throw new Error('TokenVerifier needs jwksUrl or keys');
  }

  static fromJwks(
    jwks: { keys: Record<string, unknown>[] },
    options: Omit<TokenVerifierOptions, 'keys' | 'jwksUrl'>,
  ): TokenVerifier {
    return new TokenVerifier({
      ...options,
      keys: createLocalJWKSet(jwks),
    });
  }

  async verify(token: string | undefined): Promise<VerifyResult> {
    if (!token) return { ok: false, reason: 'missing' };
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const claims = AccessTokenClaimsSchema.safeParse(payload);
      if (!claims.success) return { ok: false, reason: 'invalid' };
      const { sub, role, sid, akid } = claims.data;
      const revocations = this.options.revocations;
      if (revocations) {
        if (payload.exp! - payload.iat! > revocations.maxTokenLifetimeSeconds)
          return { ok: false, reason: 'invalid' };
        if (revocations.has(sid) || (akid !== undefined && revocations.has(akid)))
          return { ok: false, reason: 'revoked' };
      }
      return {
        ok: true,
        principal: {
          userId: sub,
          role,
          sessionId: sid,
          ...(akid !== undefined ? { apiKeyId: akid } : {}),
          token,
        },
      };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
      if (
        error instanceof errors.JWKSTimeout ||
        (error instanceof Error && /fetch|ECONNREFUSED|network/i.test(error.message))
      ) {
        return { ok: false, reason: 'unavailable' };
      }
      return { ok: false, reason: 'invalid' };
    }
  }

  async authenticate(req: Request): Promise<Principal | null> {
    const result = await this.verify(bearerToken(req));
    return result.ok ? result.principal : null;
  }
}

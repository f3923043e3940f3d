import { type Request } from 'express';
import { type Role } from '@meetmatt/contracts';
import { bearerToken } from '@meetmatt/infra';
import { type AccessTokens } from './access-tokens';
import { type ApiKeyCache } from './api-key-cache';
import { type Revocations } from './revocations';
import { type UsageRecorder } from './usage-recorder';

export type Caller =
  { ok: true; userId: string; role: Role; accessToken?: string } | { ok: false; reason: string };

export interface VerifyCallerOptions {
  tokens: AccessTokens;
  apiKeys: ApiKeyCache;
  revocations: Revocations;
  usage: UsageRecorder;
  apiKeyTokenTtlSeconds: number;
  /** Counts outcomes by credential kind (a Prometheus counter). */
  outcomes?: { inc(labels: { credential: string; outcome: string }): void };
}

/**
 * /auth/verify: who is calling, from a JWT (checked in memory) or an API key (cached lookup,
 * then a short-lived access token the gateway forwards instead of the key). Each success is
 * counted for usage, in memory.
 */
export class VerifyCaller {
  /** Tokens handed out per key, reused while they have a good part of their life left. */
  private readonly minted = new Map<string, { token: string; reuseUntil: number }>();

  constructor(private readonly options: VerifyCallerOptions) {}

  async verify(req: Request): Promise<Caller> {
    const header = req.headers['x-api-key'];
    const apiKey = typeof header === 'string' && header ? header.trim() : undefined;
    const bearer = bearerToken(req);
    if (apiKey || bearer?.startsWith('mm_')) return this.viaApiKey((apiKey ?? bearer)!);
    const checked = await this.options.tokens.check(bearer);
    this.options.outcomes?.inc({ credential: 'jwt', outcome: checked.ok ? 'ok' : checked.reason });
    if (!checked.ok) return { ok: false, reason: checked.reason };
    const { principal } = checked;
    const now = new Date();
    this.options.usage.request(principal.userId, now);
    if (principal.apiKeyId) this.options.usage.apiKeyUsed(principal.apiKeyId, now);
    else this.options.usage.sessionUsed(principal.sessionId, now);
    return { ok: true, userId: principal.userId, role: principal.role };
  }

  private async viaApiKey(key: string): Promise<Caller> {
    let checked: Awaited<ReturnType<ApiKeyCache['check']>>;
    try {
      checked = await this.options.apiKeys.check(key);
    } catch {
      // A key not in the cache needs the database; without it, say so rather than fail.
      this.options.outcomes?.inc({ credential: 'api_key', outcome: 'unavailable' });
      return { ok: false, reason: 'unavailable' };
    }
    const outcome = !checked.ok
      ? checked.reason
      : this.options.revocations.has(checked.record.keyId)
        ? 'revoked'
        : 'ok';
    this.options.outcomes?.inc({ credential: 'api_key', outcome });
    if (!checked.ok || outcome !== 'ok') return { ok: false, reason: outcome };
    const { record } = checked;
    const now = new Date();
    this.options.usage.request(record.userId, now);
    this.options.usage.apiKeyUsed(record.keyId, now);
    return {
      ok: true,
      userId: record.userId,
      role: record.role,
      accessToken: await this.tokenFor(record.keyId, record.userId, record.role, now.getTime()),
    };
  }

  private async tokenFor(keyId: string, userId: string, role: Role, now: number): Promise<string> {
    const minted = this.minted.get(keyId);
    if (minted && minted.reuseUntil > now) return minted.token;
    const ttl = this.options.apiKeyTokenTtlSeconds;
    // `sid` stays the key id, as before `akid`: a verifier that knows only `sid` still refuses it.
    const token = await this.options.tokens.sign(
      { userId, role, sessionId: keyId, apiKeyId: keyId },
      ttl,
    );
    if (this.minted.size >= 20_000) this.minted.clear();
    // Handed out until half its life is gone: the gateway gets at least ttl/2 of validity.
    this.minted.set(keyId, { token, reuseUntil: now + (ttl * 1000) / 2 });
    return token;
  }

  /** A revoked key's token is not handed out again. */
  forget(keyId: string): void {
    this.minted.delete(keyId);
  }
}

import { type Kysely } from 'kysely';
import { API_KEY_PATTERN, type Role } from '@meetmatt/contracts';
import { type UserDb } from '../database';
import { sameHash, sha256 } from './secrets';

export interface ApiKeyRecord {
  keyId: string;
  userId: string;
  role: Role;
  secretHash: string;
  expiresAt: number | null;
  revoked: boolean;
}

export type ApiKeyCheck =
  | { ok: true; record: ApiKeyRecord }
  | { ok: false; reason: 'malformed' | 'unknown' | 'expired' | 'revoked' };

/**
 * API keys as /auth/verify sees them: looked up by prefix, kept for `ttlMs` (unknown prefixes
 * too, briefly, so garbage keys do not each cost a query), dropped at once when revoked here,
 * and by the live feed when revoked by another instance.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { record: ApiKeyRecord | null; until: number }>();
  private readonly prefixOf = new Map<string, string>();
  private readonly loading = new Map<string, Promise<ApiKeyRecord | null>>();

  constructor(
    private readonly db: Kysely<UserDb>,
    private readonly ttlMs: number,
    private readonly maxEntries = 20_000,
  ) {}

  async check(key: string, now = Date.now()): Promise<ApiKeyCheck> {
    const match = API_KEY_PATTERN.exec(key);
    if (!match) return { ok: false, reason: 'malformed' };
    const [, prefix, secret] = match as unknown as [string, string, string];
    const record = await this.lookup(prefix, now);
    if (!record || !sameHash(sha256(secret), record.secretHash))
      return { ok: false, reason: 'unknown' };
    if (record.revoked) return { ok: false, reason: 'revoked' };
    if (record.expiresAt !== null && record.expiresAt <= now)
      return { ok: false, reason: 'expired' };
    return { ok: true, record };
  }

  /** Forget a key (revoked): the next check reads it again. */
  drop(keyId: string): void {
    const prefix = this.prefixOf.get(keyId);
    if (prefix) this.entries.delete(prefix);
    this.prefixOf.delete(keyId);
  }

  private async lookup(prefix: string, now: number): Promise<ApiKeyRecord | null> {
    const cached = this.entries.get(prefix);
    if (cached && cached.until > now) return cached.record;
    let pending = this.loading.get(prefix);
    if (!pending) {
      pending = this.load(prefix).finally(() => this.loading.delete(prefix));
      this.loading.set(prefix, pending);
    }
    const record = await pending;
    if (this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      // Unknown prefixes are remembered for a moment only: the key may be created right after.
      this.entries.set(prefix, {
        record,
        until: now + (record ? this.ttlMs : Math.min(this.ttlMs, 1_000)),
      });
      if (record) this.prefixOf.set(record.keyId, prefix);
    }
    return record;
  }

  private async load(prefix: string): Promise<ApiKeyRecord | null> {
    const row = await this.db
      .selectFrom('api_key_credentials as c')
      .innerJoin('api_keys as k', 'k.id', 'c.key_id')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      .select(['c.key_id', 'c.secret_hash', 'k.user_id', 'k.expires_at', 'k.revoked_at', 'u.role'])
      .where('c.prefix', '=', prefix)
      .executeTakeFirst();
    if (!row) return null;
    return {
      keyId: row.key_id,
      userId: row.user_id,
      role: row.role,
      secretHash: row.secret_hash,
      expiresAt: row.expires_at?.getTime() ?? null,
      revoked: row.revoked_at !== null,
    };
  }
}

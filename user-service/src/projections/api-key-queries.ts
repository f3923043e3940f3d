import { type Kysely } from 'kysely';
import { type UserDb } from '../database';

/** The user's keys that still work (not revoked), newest first, with when each was last used. */
export function activeApiKeys(db: Kysely<UserDb>, userId: string) {
  return db
    .selectFrom('api_keys as k')
    .leftJoin('api_key_credentials as c', 'c.key_id', 'k.id')
    .select(['k.id', 'k.name', 'k.prefix', 'k.created_at', 'k.expires_at', 'c.last_used_at'])
    .where('k.user_id', '=', userId)
    .where('k.revoked_at', 'is', null)
    .orderBy('k.created_at', 'desc')
    .execute();
}

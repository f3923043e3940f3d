import { type Kysely } from 'kysely';
import { type UserDb } from '../database';

/** Whether this account has opened a session from this address before. */
export async function hasSessionFrom(
  db: Kysely<UserDb>,
  userId: string,
  ip: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', userId)
    .where('ip', '=', ip)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The ids of the user's sessions not revoked yet. */
export async function liveSessionIds(db: Kysely<UserDb>, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  return rows.map((row) => row.id);
}

/** The user's sessions not revoked, with a refresh token still usable at `now`, newest first. */
export function usableSessions(db: Kysely<UserDb>, userId: string, now: Date) {
  return db
    .selectFrom('sessions as s')
    .leftJoin('session_activity as a', 'a.session_id', 's.id')
    .select(['s.id', 's.created_at', 's.user_agent', 's.ip', 'a.last_used_at'])
    .where('s.user_id', '=', userId)
    .where('s.revoked_at', 'is', null)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('refresh_tokens as r')
          .select('r.session_id')
          .whereRef('r.session_id', '=', 's.id')
          .where('r.used_at', 'is', null)
          .where('r.expires_at', '>', now),
      ),
    )
    .orderBy('s.created_at', 'desc')
    .execute();
}

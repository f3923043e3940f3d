import { type Kysely } from 'kysely';
import { type ReadModelTables } from '../database';

/** Sessions and API keys revoked after `since` (what a booting instance must refuse). */
export async function revokedSince(
  db: Kysely<ReadModelTables>,
  since: Date,
): Promise<{ id: string; revokedAt: Date }[]> {
  const [sessions, keys] = await Promise.all([
    db
      .selectFrom('sessions')
      .select(['id', 'revoked_at'])
      .where('revoked_at', '>', since)
      .execute(),
    db
      .selectFrom('api_keys')
      .select(['id', 'revoked_at'])
      .where('revoked_at', '>', since)
      .execute(),
  ]);
  return [...sessions, ...keys].map((row) => ({ id: row.id, revokedAt: row.revoked_at! }));
}

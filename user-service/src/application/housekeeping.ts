import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { type EventStore, type PruneTask, deleteInBatches, env, loadConfig } from '@meetmatt/infra';
import { streams } from '../domain/streams';
import { type UserDb } from '../database';

/** How long the user service keeps what it no longer needs. Documented in .env.example. */
export const userHousekeepingConfig = z.object({
  /** Login-throttle rows with no failure for this long (and no block in force) go. */
  LOGIN_THROTTLE_RETENTION_MS: env.int(86_400_000, 60_000),
  /** Refresh-token rows this long past their expiry go (an expired token is refused anyway). */
  REFRESH_TOKEN_RETENTION_MS: env.int(86_400_000, 0),
  /**
   * A credentials row whose user was never recorded (registration failed between storing the
   * password hash and appending `user.registered`) goes once it is this old.
   */
  ORPHAN_CREDENTIAL_AGE_MS: env.int(86_400_000, 60_000),
});

export type UserHousekeepingConfig = z.infer<typeof userHousekeepingConfig>;

export function loadUserHousekeepingConfig(
  source: Record<string, string | undefined> = process.env,
): UserHousekeepingConfig {
  return loadConfig(userHousekeepingConfig, source);
}

const ORPHAN_BATCH = 500;

/** The user service's tables that grow without bound, for the host's housekeeping leader. */
export function userPruneTasks(
  db: Kysely<UserDb>,
  store: EventStore,
  config: UserHousekeepingConfig,
): PruneTask[] {
  const raw = db as unknown as Kysely<unknown>;
  return [
    {
      name: 'login_throttle',
      prune: (now) =>
        deleteInBatches(
          raw,
          'login_throttle',
          sql`last_failure_at < ${new Date(now.getTime() - config.LOGIN_THROTTLE_RETENTION_MS)}
            AND (blocked_until IS NULL OR blocked_until < ${now})`,
        ),
    },
    {
      name: 'refresh_tokens',
      prune: (now) =>
        deleteInBatches(
          raw,
          'refresh_tokens',
          sql`expires_at < ${new Date(now.getTime() - config.REFRESH_TOKEN_RETENTION_MS)}`,
        ),
    },
    {
      name: 'orphan_credentials',
      prune: (now) => pruneOrphanCredentials(db, store, now, config.ORPHAN_CREDENTIAL_AGE_MS),
    },
  ];
}

/**
 * The users read model narrows the search (a credentials row with no user row); the event
 * store decides, so a lagging or rebuilding read model never costs anyone their password.
 */
async function pruneOrphanCredentials(
  db: Kysely<UserDb>,
  store: EventStore,
  now: Date,
  ageMs: number,
): Promise<number> {
  const candidates = await db
    .selectFrom('credentials')
    .leftJoin('users', 'users.id', 'credentials.user_id')
    .where('users.id', 'is', null)
    .where('credentials.updated_at', '<', new Date(now.getTime() - ageMs))
    .select('credentials.user_id')
    .limit(ORPHAN_BATCH)
    .execute();
  const orphans: string[] = [];
  for (const { user_id } of candidates) {
    if (!(await store.streamExists(streams.user(user_id)))) orphans.push(user_id);
  }
  if (orphans.length === 0) return 0;
  const result = await db
    .deleteFrom('credentials')
    .where('user_id', 'in', orphans)
    .where('updated_at', '<', new Date(now.getTime() - ageMs))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

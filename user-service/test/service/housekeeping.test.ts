import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { type UserWorld, registerUser, startWorld } from '../support/world';

const DAY = 86_400_000;

describe('user-service housekeeping', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_housekeeping', {
      LOGIN_THROTTLE_RETENTION_MS: String(DAY),
      REFRESH_TOKEN_RETENTION_MS: String(DAY),
      ORPHAN_CREDENTIAL_AGE_MS: String(DAY),
    });
  });
  afterAll(async () => {
    await world?.stop();
  });

  test('when throttle rows, refresh tokens and credentials outlive their retention, then a housekeeping round deletes them and keeps what is still in use', async () => {
    const db = world.service.host.database.db;
    const user = await registerUser(world.url);
    const orphan = randomUUID();
    const recentOrphan = randomUUID();
    const [staleThrottle, blockedThrottle, freshThrottle] = [1, 2, 3].map(
      (n) => `hk-${n}-${randomUUID()}`,
    );
    const [expiredToken, liveToken] = [1, 2].map((n) => `hk-token-${n}-${randomUUID()}`);
    await sql`
      INSERT INTO login_throttle (email_hash, failures, last_failure_at, blocked_until) VALUES
        (${staleThrottle}, 3, now() - interval '3 days', NULL),
        (${blockedThrottle}, 9, now() - interval '3 days', now() + interval '1 hour'),
        (${freshThrottle}, 1, now(), NULL)`.execute(db);
    await sql`
      INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at) VALUES
        (${expiredToken}, ${randomUUID()}, ${user.userId}, now() - interval '40 days', now() - interval '2 days'),
        (${liveToken}, ${randomUUID()}, ${user.userId}, now(), now() + interval '30 days')`.execute(
      db,
    );
    await sql`
      INSERT INTO credentials (user_id, password_hash, updated_at) VALUES
        (${orphan}, 'x', now() - interval '2 days'),
        (${recentOrphan}, 'x', now())`.execute(db);
    // The registered user's own credentials look old too: the event store still vouches for them.
    await sql`
      UPDATE credentials SET updated_at = now() - interval '5 days' WHERE user_id = ${user.userId}`.execute(
      db,
    );

    const pruned = await world.service.host.housekeeping.runOnce();

    expect(pruned).toMatchObject({ login_throttle: 1, refresh_tokens: 1, orphan_credentials: 1 });
    const throttles = await sql<{ email_hash: string }>`
      SELECT email_hash FROM login_throttle
       WHERE email_hash IN (${staleThrottle}, ${blockedThrottle}, ${freshThrottle})`.execute(db);
    expect(throttles.rows.map((r) => r.email_hash).sort()).toEqual(
      [blockedThrottle, freshThrottle].sort(),
    );
    const tokens = await sql<{ token_hash: string }>`
      SELECT token_hash FROM refresh_tokens
       WHERE token_hash IN (${expiredToken}, ${liveToken})`.execute(db);
    expect(tokens.rows.map((r) => r.token_hash)).toEqual([liveToken]);
    const credentials = await sql<{ user_id: string }>`
      SELECT user_id FROM credentials
       WHERE user_id IN (${orphan}, ${recentOrphan}, ${user.userId})`.execute(db);
    expect(credentials.rows.map((r) => r.user_id).sort()).toEqual(
      [recentOrphan, user.userId].sort(),
    );
  });
});

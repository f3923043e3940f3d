import { type Kysely, sql } from 'kysely';
import { type UserDb } from '../db';

/**
 * Slows down password guessing against one account: after `freeFailures` failed logins for an
 * email (an hour without failure forgets them), each further failure blocks the email for twice
 * as long as the last, from 1 s up to `maxDelaySeconds`. Keyed by the email's hash, whether or
 * not an account has it, so the throttle tells nothing about which emails exist.
 */
export class LoginThrottle {
  constructor(
    private readonly db: Kysely<UserDb>,
    private readonly freeFailures: number,
    private readonly maxDelaySeconds: number,
  ) {}

  /** Seconds until the email may try again; 0 when it may now. */
  async blockedFor(emailHash: string, now: Date): Promise<number> {
    const row = await this.db
      .selectFrom('login_throttle')
      .select('blocked_until')
      .where('email_hash', '=', emailHash)
      .executeTakeFirst();
    const until = row?.blocked_until?.getTime() ?? 0;
    return until > now.getTime() ? Math.ceil((until - now.getTime()) / 1000) : 0;
  }

  async recordFailure(emailHash: string, now: Date): Promise<void> {
    const { rows } = await sql<{ failures: number }>`
      INSERT INTO login_throttle AS t (email_hash, failures, last_failure_at)
      VALUES (${emailHash}, 1, ${now})
      ON CONFLICT (email_hash) DO UPDATE SET
        failures = CASE WHEN t.last_failure_at < ${now}::timestamptz - interval '1 hour' THEN 1
                        ELSE t.failures + 1 END,
        last_failure_at = ${now}
      RETURNING failures`.execute(this.db);
    const failures = rows[0]?.failures ?? 1;
    if (failures < this.freeFailures) return;
    const delaySeconds = Math.min(
      this.maxDelaySeconds,
      2 ** Math.min(30, failures - this.freeFailures),
    );
    await this.db
      .updateTable('login_throttle')
      .set({ blocked_until: new Date(now.getTime() + delaySeconds * 1000) })
      .where('email_hash', '=', emailHash)
      .execute();
  }

  async reset(emailHash: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('email_hash', '=', emailHash).execute();
  }
}

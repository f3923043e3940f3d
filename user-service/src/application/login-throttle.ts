import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type UserDb } from '../database';

export type Attempt = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Slows down password guessing. Each attempt is reserved (counted) before the password is
 * hashed, in one atomic statement, so parallel guesses cannot all slip in before the first
 * failure is recorded: after `freeFailures` attempts (an hour without one forgets them), each
 * further attempt blocks the key for twice as long as the last, from 1 s up to
 * `maxDelaySeconds`. A success releases the count.
 *
 * The key is the account's email together with the client's address: a stranger who knows
 * an email blocks only their own attempts at it, never the owner's sign-in from elsewhere.
 * Guessing from many addresses at once is bounded by the per-account limit (AuthLimits),
 * which the owner's known addresses pass. Hashed, whether or not an account has the email,
 * so the table tells nothing about which emails exist.
 */
export class LoginThrottle {
  constructor(
    private readonly db: Kysely<UserDb>,
    private readonly freeFailures: number,
    private readonly maxDelaySeconds: number,
  ) {}

  static key(emailKey: string, address: string | null): string {
    return createHash('sha256')
      .update(`${emailKey}|${address ?? ''}`)
      .digest('hex');
  }

  /** Counts an attempt now, or says how long the key is blocked (counting nothing). */
  async reserve(key: string, now: Date): Promise<Attempt> {
    const free = this.freeFailures;
    const max = this.maxDelaySeconds;
    // `failures` after this attempt: 1 when the last one is more than an hour old.
    const next = sql<number>`CASE WHEN t.last_failure_at < ${now}::timestamptz - interval '1 hour'
                                  THEN 1 ELSE t.failures + 1 END`;
    const { rows } = await sql<{ failures: number }>`
      INSERT INTO login_throttle AS t (email_hash, failures, last_failure_at, blocked_until)
      VALUES (${key}, 1, ${now}, CASE WHEN 1 >= ${free}::int THEN ${now}::timestamptz + interval '1 second' END)
      ON CONFLICT (email_hash) DO UPDATE SET
        failures = ${next},
        last_failure_at = ${now},
        blocked_until = CASE WHEN ${next} >= ${free}::int
          THEN ${now}::timestamptz + least(${max}::int, power(2, least(30, ${next} - ${free}::int))::int) * interval '1 second'
          ELSE NULL END
      WHERE t.blocked_until IS NULL OR t.blocked_until <= ${now}
      RETURNING failures`.execute(this.db);
    if (rows.length > 0) return { ok: true };
    const row = await this.db
      .selectFrom('login_throttle')
      .select('blocked_until')
      .where('email_hash', '=', key)
      .executeTakeFirst();
    const until = row?.blocked_until?.getTime() ?? now.getTime();
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now.getTime()) / 1000)) };
  }

  /** The attempt was not a guess (the password was right, or it was never checked). */
  async release(key: string, outcome: 'success' | 'not-evaluated'): Promise<void> {
    if (outcome === 'success') {
      await this.db.deleteFrom('login_throttle').where('email_hash', '=', key).execute();
      return;
    }
    await this.db
      .updateTable('login_throttle')
      .set({ failures: sql`greatest(failures - 1, 0)` })
      .where('email_hash', '=', key)
      .execute();
  }
}

import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type UserDb } from '../database';

export interface RateLimit {
  /** What is counted, e.g. `register:address`. */
  name: string;
  /** At most this many per window. */
  limit: number;
}

/**
 * Fixed-window counters in the service's database, so every instance counts together: sign-up
 * and sign-in per client address and per account. The gateway limits by address too; this is
 * the wall a request that reaches the service directly still meets.
 */
export class AuthLimits {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<UserDb>,
    private readonly windowMs: number,
  ) {}

  /** Counts one hit; 0 when within the limit, else the seconds until the window ends. */
  async hit(rule: RateLimit, subject: string, now: Date): Promise<number> {
    const key = createHash('sha256').update(`${rule.name}|${subject}`).digest('hex');
    const windowStart = new Date(now.getTime() - this.windowMs);
    const { rows } = await sql<{ hits: number; window_start: Date }>`
      INSERT INTO auth_rate_limits AS r (key, window_start, hits) VALUES (${key}, ${now}, 1)
      ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN r.window_start <= ${windowStart} THEN 1 ELSE r.hits + 1 END,
        window_start = CASE WHEN r.window_start <= ${windowStart} THEN ${now} ELSE r.window_start END
      RETURNING hits, window_start`.execute(this.db);
    const row = rows[0];
    if (!row || row.hits <= rule.limit) return 0;
    const endsAt = row.window_start.getTime() + this.windowMs;
    return Math.max(1, Math.ceil((endsAt - now.getTime()) / 1000));
  }

  /** Deletes windows that ended (a timer; errors are for the next round). */
  start(intervalMs = 60_000): void {
    this.timer = setInterval(() => {
      const before = new Date(Date.now() - this.windowMs);
      this.db
        .deleteFrom('auth_rate_limits')
        .where('window_start', '<', before)
        .execute()
        .catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

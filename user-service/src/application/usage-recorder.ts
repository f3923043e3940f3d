import { type Kysely, sql } from 'kysely';
import { type Logger } from '@meetmatt/infra';
import { type UserDb } from '../database';

/**
 * Counts what /auth/verify lets through, in memory, and writes it in batches: API requests per
 * user and day, and when each session and API key was last used. A failed flush keeps its
 * counts for the next one; `stop()` flushes what is left.
 */
export class UsageRecorder {
  private requests = new Map<string, number>();
  private sessions = new Map<string, Date>();
  private apiKeys = new Map<string, Date>();
  /** What the flush in progress is writing: still "not yet in the tables" until it commits. */
  private writing: { sessions: Map<string, Date>; apiKeys: Map<string, Date> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<UserDb>,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** One authenticated request; `at` decides the (UTC) day. */
  request(userId: string, at: Date): void {
    const key = `${userId}|${at.toISOString().slice(0, 10)}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  sessionUsed(sessionId: string, at: Date): void {
    this.sessions.set(sessionId, at);
  }

  apiKeyUsed(keyId: string, at: Date): void {
    this.apiKeys.set(keyId, at);
  }

  /** Not yet flushed: lists merge it with what the tables say. */
  sessionLastUsed(sessionId: string): Date | undefined {
    return this.sessions.get(sessionId) ?? this.writing?.sessions.get(sessionId);
  }

  apiKeyLastUsed(keyId: string): Date | undefined {
    return this.apiKeys.get(keyId) ?? this.writing?.apiKeys.get(keyId);
  }

  /** Writes what was counted since the last flush; one flush at a time. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.requests.size === 0 && this.sessions.size === 0 && this.apiKeys.size === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    const requests = this.requests;
    const sessions = this.sessions;
    const apiKeys = this.apiKeys;
    this.requests = new Map();
    this.sessions = new Map();
    this.apiKeys = new Map();
    this.writing = { sessions, apiKeys };
    try {
      await this.db.transaction().execute(async (trx) => {
        if (requests.size > 0) {
          const users: string[] = [];
          const days: string[] = [];
          const counts: number[] = [];
          for (const [key, count] of requests) {
            const [userId, day] = key.split('|') as [string, string];
            users.push(userId);
            days.push(day);
            counts.push(count);
          }
          await sql`
            INSERT INTO api_usage_daily (user_id, day, requests)
            SELECT * FROM unnest(${users}::uuid[], ${days}::date[], ${counts}::bigint[])
            ON CONFLICT (user_id, day)
            DO UPDATE SET requests = api_usage_daily.requests + EXCLUDED.requests`.execute(trx);
        }
        if (sessions.size > 0) {
          await sql`
            INSERT INTO session_activity (session_id, last_used_at)
            SELECT * FROM unnest(${[...sessions.keys()]}::uuid[], ${[...sessions.values()]}::timestamptz[])
            ON CONFLICT (session_id)
            DO UPDATE SET last_used_at = greatest(session_activity.last_used_at, EXCLUDED.last_used_at)`.execute(
            trx,
          );
        }
        if (apiKeys.size > 0) {
          await sql`
            UPDATE api_key_credentials c SET last_used_at = greatest(c.last_used_at, u.at)
            FROM unnest(${[...apiKeys.keys()]}::uuid[], ${[...apiKeys.values()]}::timestamptz[]) AS u(key_id, at)
            WHERE c.key_id = u.key_id`.execute(trx);
        }
      });
    } catch (error) {
      // Put the counts back: they are added to whatever was counted meanwhile.
      for (const [key, count] of requests)
        this.requests.set(key, (this.requests.get(key) ?? 0) + count);
      for (const [id, at] of sessions) if (!this.sessions.has(id)) this.sessions.set(id, at);
      for (const [id, at] of apiKeys) if (!this.apiKeys.has(id)) this.apiKeys.set(id, at);
      this.logger.warn('usage not written, kept for the next flush', {
        error: (error as Error).message,
      });
    } finally {
      this.writing = undefined;
    }
  }
}

import { type Kysely, type Migration, type Transaction, sql } from 'kysely';

export const mailOutboxMigration: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE mail_outbox (
        key text PRIMARY KEY,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL DEFAULT 'pending',
        finished_at timestamptz,
        last_error text
      )`.execute(db);
    await sql`
      CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
      WHERE state = 'pending'`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS mail_outbox`.execute(db);
  },
};

/**
 * A mail to send, as the outbox keeps it: what to render, not the rendered mail. The renderer
 * runs at each attempt, so a mail holds no secret at rest (a verification link's token is derived
 * when it is rendered) and nothing large (a receipt's PDF is drawn when it is sent).
 */
export interface QueuedMail {
  /** Idempotency: one mail per key (e.g. `<event id>:receipt`); queuing it again adds nothing. */
  key: string;
  kind: string;
  payload: Record<string, unknown>;
}

export type MailState = 'pending' | 'sent' | 'skipped' | 'failed';

export interface OutboxRow {
  key: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  state: MailState;
  last_error: string | null;
}

type Executor = Kysely<unknown> | Transaction<unknown>;

/** The `mail_outbox` table: queue, claim, and record what became of each mail. */
export class MailOutbox {
  constructor(private readonly db: Kysely<unknown>) {}

  /** Queues mails (in the caller's transaction when given); keys already there are kept as they are. */
  async enqueue(mails: readonly QueuedMail[], executor: Executor = this.db): Promise<number> {
    let added = 0;
    for (const mail of mails) {
      const result = await sql`
        INSERT INTO mail_outbox (key, kind, payload)
        VALUES (${mail.key}, ${mail.kind}, ${JSON.stringify(mail.payload)}::jsonb)
        ON CONFLICT (key) DO NOTHING`.execute(executor);
      added += Number(result.numAffectedRows ?? 0);
    }
    return added;
  }

  /**
   * Takes up to `limit` due mails for `leaseMs`: their next attempt moves past the lease, so
   * another instance does not take them meanwhile, and a sender that dies mid-send leaves them
   * due again when the lease runs out (at-least-once).
   */
  async claim(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const { rows } = await sql<OutboxRow>`
      UPDATE mail_outbox SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE key IN (
        SELECT key FROM mail_outbox
        WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING key, kind, payload, attempts, state, last_error`.execute(this.db);
    return rows;
  }

  async finish(key: string, state: 'sent' | 'skipped' | 'failed', note?: string): Promise<void> {
    await sql`
      UPDATE mail_outbox SET state = ${state}, finished_at = now(),
        attempts = attempts + ${state === 'skipped' ? 0 : 1}, last_error = ${note ?? null}
      WHERE key = ${key}`.execute(this.db);
  }

  async retryLater(key: string, delayMs: number, error: string): Promise<void> {
    await sql`
      UPDATE mail_outbox SET attempts = attempts + 1, last_error = ${error},
        next_attempt_at = now() + ${delayMs} * interval '1 millisecond'
      WHERE key = ${key}`.execute(this.db);
  }

  async get(key: string): Promise<OutboxRow | undefined> {
    const { rows } = await sql<OutboxRow>`
      SELECT key, kind, payload, attempts, state, last_error FROM mail_outbox
      WHERE key = ${key}`.execute(this.db);
    return rows[0];
  }

  /** Deletes finished mails older than `retentionMs` (housekeeping). */
  async prune(retentionMs: number): Promise<number> {
    const result = await sql`
      DELETE FROM mail_outbox WHERE state <> 'pending'
        AND finished_at < now() - ${retentionMs} * interval '1 millisecond'`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }
}

import { type Kysely, type Migration, type Transaction, sql } from 'kysely';

export const inboxMigration: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE inbox (
        consumer text NOT NULL,
        message_id text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS inbox`.execute(db);
  },
};

/**
 * The messages a consumer has already handled, recorded in the same transaction as the handler's
 * writes: either both commit or neither does, so a redelivery finds its id and changes nothing.
 * Two deliveries of one message at once are serialised by the primary key: the second insert
 * waits for the first transaction and then finds the row (or takes over if it rolled back).
 */
export class Inbox<DB> {
  constructor(
    private readonly db: Kysely<DB>,
    /** Usually the consumer's queue name. */
    readonly consumer: string,
  ) {}

  /** Runs `work` in a transaction unless `messageId` was already handled by this consumer. */
  async once(
    messageId: string,
    work: (trx: Transaction<DB>) => Promise<void>,
  ): Promise<'processed' | 'duplicate'> {
    return this.db.transaction().execute(async (trx) => {
      const inserted = await sql`
        INSERT INTO inbox (consumer, message_id) VALUES (${this.consumer}, ${messageId})
        ON CONFLICT DO NOTHING`.execute(trx);
      if (!inserted.numAffectedRows) return 'duplicate';
      await work(trx);
      return 'processed';
    });
  }

  async has(messageId: string): Promise<boolean> {
    const { rows } = await sql`
      SELECT 1 FROM inbox WHERE consumer = ${this.consumer} AND message_id = ${messageId}`.execute(
      this.db,
    );
    return rows.length > 0;
  }
}

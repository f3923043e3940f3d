import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The PostgreSQL event store's table: `es_events` is `$all`.
 *
 * `global_position` comes from an identity column at insert, but a transaction that inserted
 * position 7 may commit after the one that inserted position 8, so a reader that trusted
 * positions alone would skip 7. Every row is therefore stamped with its transaction id (`xid8`):
 * a reader only reads rows whose transaction id is below the snapshot's `xmin` (every
 * transaction below it has finished) and orders and checkpoints by the pair (transaction id,
 * global position). See ARCHITECTURE.md, "The shape", point 3.
 *
 * The unique index on (stream, revision) is the optimistic-concurrency check: an appender
 * inserts the revisions after the one it read, and a concurrent appender that got there first
 * makes the insert fail. There is no separate streams table to update, which keeps an append
 * to one insert (a streams table cost half the append throughput here).
 */
export const eventStoreMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE es_events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id uuid NOT NULL,
        stream_id text NOT NULL,
        stream_revision bigint NOT NULL,
        event_type text NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`ALTER TABLE es_events ADD CONSTRAINT es_events_stream_revision UNIQUE (stream_id, stream_revision)`.execute(
      db,
    );
    await sql`ALTER TABLE es_events ADD CONSTRAINT es_events_event_id UNIQUE (event_id)`.execute(
      db,
    );
    await sql`CREATE INDEX es_events_all ON es_events (transaction_id, global_position)`.execute(
      db,
    );
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE IF EXISTS es_events`.execute(db);
  },
};

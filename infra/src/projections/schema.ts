import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The runner's own tables.
 *
 * `projection_status` holds one row per projection: its checkpoint (`commit:prepare`), the
 * version its live tables were built by, and what operators and /readyz need. Every batch locks
 * this row (SELECT … FOR UPDATE) and checks the checkpoint before it writes, so two runners that
 * overlap, a rebuild's swap, a reset or a skip can never make an event apply twice or be skipped.
 *
 * `projection_rebuilds` holds a rebuild in progress, apart from the status row so that building
 * batches and live batches do not queue on the same row lock; the swap locks both.
 */
export const projectionsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE projection_status (
        name text PRIMARY KEY,
        version integer NOT NULL,
        schema_name text NOT NULL,
        event_types text[] NOT NULL,
        position text NOT NULL DEFAULT '0:0',
        state text NOT NULL DEFAULT 'catching-up'
          CHECK (state IN ('running', 'catching-up', 'stopped', 'failed')),
        error text,
        failed_event_id text,
        failed_position text,
        events_processed bigint NOT NULL DEFAULT 0,
        leader text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`
      CREATE TABLE projection_rebuilds (
        name text PRIMARY KEY,
        rebuild_id uuid NOT NULL,
        version integer NOT NULL,
        schema_name text NOT NULL,
        event_types text[] NOT NULL,
        position text NOT NULL DEFAULT '0:0',
        events_done bigint NOT NULL DEFAULT 0,
        state text NOT NULL CHECK (state IN ('building', 'failed')),
        error text,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE IF EXISTS projection_rebuilds`.execute(db);
    await sql`DROP TABLE IF EXISTS projection_status`.execute(db);
  },
};

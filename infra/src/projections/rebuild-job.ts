import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type Position, comparePositions, formatPosition } from '../event-store/types';
import { CheckpointMovedError, errorMessage } from './errors';
import { type Projection, rebuildSchemaOf } from './projection';
import {
  type CheckpointGuard,
  inSchema,
  quoteIdent,
  storedPosition,
  verifyTables,
} from './status-rows';

/** A `projection_rebuilds` row. */
export interface RebuildRow {
  name: string;
  rebuild_id: string;
  version: number;
  schema_name: string;
  position: string;
  events_done: number;
  state: 'building' | 'failed';
  error: string | null;
  started_at: Date;
  updated_at: Date;
}

/** The rebuild this process is running, as far as it has got. */
export interface RebuildJob {
  id: string;
  schema: string;
  position: Position;
  eventsDone: number;
  resumed: boolean;
}

const REBUILD_COLUMNS = sql.raw(`name, rebuild_id::text AS rebuild_id, version, schema_name,
  position, events_done::float8 AS events_done, state, error, started_at, updated_at`);

type Db = Kysely<unknown>;

export async function loadRebuildRows(db: Db): Promise<RebuildRow[]> {
  const { rows } = await sql<RebuildRow>`
    SELECT ${REBUILD_COLUMNS} FROM projection_rebuilds ORDER BY name`.execute(db);
  return rows;
}

async function loadRebuildRow(db: Db, name: string): Promise<RebuildRow | undefined> {
  const { rows } = await sql<RebuildRow>`
    SELECT ${REBUILD_COLUMNS} FROM projection_rebuilds WHERE name = ${name}`.execute(db);
  return rows[0];
}

/** Locks the row; with `asyncCommit`, in the same round trip turns synchronous commit off. */
async function lockRebuildRow(
  db: Db,
  name: string,
  asyncCommit: boolean,
): Promise<RebuildRow | undefined> {
  const { rows } = await sql<RebuildRow>`
    WITH settings AS MATERIALIZED (
      SELECT set_config('synchronous_commit', 'off', true) WHERE ${asyncCommit})
    SELECT ${REBUILD_COLUMNS} FROM projection_rebuilds
    WHERE name = ${name} AND (NOT ${asyncCommit} OR EXISTS (SELECT 1 FROM settings))
    FOR UPDATE OF projection_rebuilds`.execute(db);
  return rows[0];
}

/**
 * Resumes an interrupted rebuild of the same version (its tables hold exactly the events up to
 * its position, since each batch moved that position in its own transaction), or starts one:
 * an empty schema beside the live one, the new version's tables in it, position 0.
 */
export async function prepareRebuild(
  db: Db,
  projection: Projection,
  fresh: boolean,
): Promise<RebuildJob> {
  const schema = rebuildSchemaOf(projection);
  const row = await loadRebuildRow(db, projection.name);
  if (!fresh && row?.state === 'building' && row.version === projection.version) {
    if (await schemaExists(db, schema)) {
      return {
        id: row.rebuild_id,
        schema,
        position: storedPosition(row.position),
        eventsDone: row.events_done,
        resumed: true,
      };
    }
  }
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await sql`DROP SCHEMA IF EXISTS ${sql.raw(quoteIdent(schema))} CASCADE`.execute(trx);
    await sql`CREATE SCHEMA ${sql.raw(quoteIdent(schema))}`.execute(trx);
    await inSchema(trx, schema, () => projection.createTables(trx, schema));
    await verifyTables(trx, projection, schema, true);
    await sql`
      INSERT INTO projection_rebuilds (name, rebuild_id, version, schema_name, event_types, state)
      VALUES (${projection.name}, ${id}, ${projection.version}, ${schema},
              ${[...projection.eventTypes]}, 'building')
      ON CONFLICT (name) DO UPDATE SET rebuild_id = EXCLUDED.rebuild_id,
        version = EXCLUDED.version, schema_name = EXCLUDED.schema_name,
        event_types = EXCLUDED.event_types, position = '0:0', events_done = 0,
        state = 'building', error = NULL, started_at = now(), updated_at = now()`.execute(trx);
  });
  return { id, schema, position: { commit: 0n, prepare: 0n }, eventsDone: 0, resumed: false };
}

async function schemaExists(db: Db, schema: string): Promise<boolean> {
  const { rows } = await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`.execute(db);
  return rows.length > 0;
}

/**
 * A rebuild's checkpoint: its row, valid only while this very rebuild owns it.
 *
 * With `asyncCommit`, its transactions do not wait for their commit to reach the disk: a
 * server crash may lose the last few, but each takes its rows and its checkpoint with it, so
 * the rebuild resumes from an earlier position, consistent. The live tables never do this.
 */
export function rebuildGuard(
  projection: Projection,
  job: RebuildJob,
  options: { asyncCommit?: boolean } = {},
): CheckpointGuard {
  const name = projection.name;
  const asyncCommit = options.asyncCommit ?? false;
  const check = (row: RebuildRow | undefined, expected: Position) => {
    if (!row || row.rebuild_id !== job.id)
      throw new CheckpointMovedError(name, 'the rebuild was cancelled or replaced');
    if (row.state !== 'building') throw new CheckpointMovedError(name, `rebuild ${row.state}`);
    if (comparePositions(storedPosition(row.position), expected) !== 0)
      throw new CheckpointMovedError(name, `rebuild position moved to ${row.position}`);
  };
  return {
    async lock(trx, expected) {
      check(await lockRebuildRow(trx, name, asyncCommit), expected);
    },
    async advance(trx, to, applied) {
      await sql`UPDATE projection_rebuilds SET position = ${formatPosition(to)},
          events_done = events_done + ${applied}, updated_at = now()
        WHERE name = ${name}`.execute(trx);
    },
    async claim(trx, expected, to, applied, schema) {
      // `old` locks the row before the update (which waits for it) moves it: the checks read the
      // row as it was, and a failed one throws, which rolls the move back with the transaction.
      const { rows } = await sql<RebuildRow>`
        WITH old AS MATERIALIZED (
          SELECT ${REBUILD_COLUMNS} FROM projection_rebuilds WHERE name = ${name} FOR UPDATE
        ), moved AS (
          UPDATE projection_rebuilds SET position = ${formatPosition(to)},
            events_done = events_done + ${applied}, updated_at = now()
          WHERE name = ${name} AND EXISTS (SELECT 1 FROM old)
        )
        SELECT old.*, set_config('search_path', ${quoteIdent(schema)}, true),
          CASE WHEN ${asyncCommit} THEN set_config('synchronous_commit', 'off', true) END
        FROM old`.execute(trx);
      check(rows[0], expected);
    },
    async fail(trx, event, error) {
      await markRebuildFailed(trx, name, job.id, `event ${event.id}: ${errorMessage(error)}`);
    },
  };
}

export async function markRebuildFailed(
  db: Db,
  name: string,
  id: string,
  error: string,
): Promise<void> {
  await sql`UPDATE projection_rebuilds SET state = 'failed', error = ${error.slice(0, 2_000)},
      updated_at = now()
    WHERE name = ${name} AND rebuild_id = ${id}::uuid`.execute(db);
}

/** Forgets a rebuild and drops what it built; a process still running it stops at its next batch. */
export async function cancelRebuild(db: Db, projection: Pick<Projection, 'name'>): Promise<void> {
  await sql`DELETE FROM projection_rebuilds WHERE name = ${projection.name}`.execute(db);
  await sql`DROP SCHEMA IF EXISTS ${sql.raw(quoteIdent(rebuildSchemaOf(projection)))} CASCADE`.execute(
    db,
  );
}

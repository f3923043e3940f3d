import { type Kysely, type Transaction, sql } from 'kysely';
import {
  type Position,
  type RecordedEvent,
  START,
  comparePositions,
  formatPosition,
  parsePosition,
} from '../event-store/types';
import { CheckpointMovedError, errorMessage } from './errors';
import { type Projection } from './projection';

export type StoredState = 'running' | 'catching-up' | 'stopped' | 'failed';

/** A `projection_status` row as selected by `STATUS_COLUMNS`. */
export interface StatusRow {
  name: string;
  version: number;
  schema_name: string;
  event_types: string[];
  position: string;
  state: StoredState;
  error: string | null;
  failed_event_id: string | null;
  failed_position: string | null;
  events_processed: number;
  leader: string | null;
  updated_at: Date;
}

// events_processed as float8: exact to 2^53 whatever int8 parser the caller's pool uses.
const STATUS_COLUMNS = sql.raw(`name, version, schema_name, event_types, position, state, error,
  failed_event_id, failed_position, events_processed::float8 AS events_processed, leader, updated_at`);

/** Errors are kept whole enough to read, short enough for a status line. */
const MAX_ERROR_LENGTH = 2_000;

type Db = Kysely<unknown>;

export async function loadStatusRow(db: Db, name: string): Promise<StatusRow | undefined> {
  const { rows } = await sql<StatusRow>`
    SELECT ${STATUS_COLUMNS} FROM projection_status WHERE name = ${name}`.execute(db);
  return rows[0];
}

export async function loadStatusRows(db: Db): Promise<StatusRow[]> {
  const { rows } = await sql<StatusRow>`
    SELECT ${STATUS_COLUMNS} FROM projection_status ORDER BY name`.execute(db);
  return rows;
}

/** Locks a status row for the rest of the transaction; undefined when there is none. */
export async function lockStatusRow(trx: Db, name: string): Promise<StatusRow | undefined> {
  const { rows } = await sql<StatusRow>`
    SELECT ${STATUS_COLUMNS} FROM projection_status WHERE name = ${name} FOR UPDATE`.execute(trx);
  return rows[0];
}

/**
 * Runs `work` with unqualified names pointing at `schema` (and pg_catalog) only, so a
 * projection's raw SQL lands in the schema it is building, never in the live one by accident;
 * then puts the search_path back for the runner's own tables.
 */
export async function inSchema<T>(trx: Db, schema: string, work: () => Promise<T>): Promise<T> {
  // Materialized, so the old value is read before it is replaced.
  const { rows } = await sql<{ previous: string }>`
    WITH old AS MATERIALIZED (SELECT current_setting('search_path') AS previous)
    SELECT previous, set_config('search_path', ${quoteIdent(schema)}, true) FROM old`.execute(trx);
  const result = await work();
  await sql`SELECT set_config('search_path', ${rows[0]!.previous}, true)`.execute(trx);
  return result;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Makes sure a projection has a status row and, the first time, creates its live tables in the
 * same transaction: two instances booting together queue on the insert, and only the one that
 * inserted creates the tables.
 */
export async function registerProjection(
  db: Db,
  projection: Projection,
  schema: string,
): Promise<StatusRow> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ name: string }>`
      INSERT INTO projection_status (name, version, schema_name, event_types)
      VALUES (${projection.name}, ${projection.version}, ${schema}, ${[...projection.eventTypes]})
      ON CONFLICT (name) DO NOTHING RETURNING name`.execute(trx);
    if (rows.length > 0) {
      await inSchema(trx, schema, () => projection.createTables(trx, schema));
      await verifyTables(trx, projection, schema, false);
    } else {
      // The event types are part of the definition of a version: keep them current for lag.
      await sql`UPDATE projection_status SET event_types = ${[...projection.eventTypes]}
        WHERE name = ${projection.name} AND version = ${projection.version}
          AND event_types IS DISTINCT FROM ${[...projection.eventTypes]}::text[]`.execute(trx);
    }
    const row = await loadStatusRow(trx, projection.name);
    if (!row) throw new Error(`projection ${projection.name}: status row vanished`);
    return row;
  });
}

/**
 * Checks that `createTables` made the declared tables; with `exact`, that it made nothing else
 * (a rebuild schema must hold only tables the swap moves).
 */
export async function verifyTables(
  db: Db,
  projection: Projection,
  schema: string,
  exact: boolean,
): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`.execute(db);
  const found = new Set(rows.map((r) => r.name));
  const missing = projection.tables.filter((t) => !found.has(t));
  if (missing.length > 0)
    throw new Error(
      `projection ${projection.name}: createTables did not make ${missing.join(', ')}`,
    );
  if (exact) {
    const extra = [...found].filter((t) => !projection.tables.includes(t));
    if (extra.length > 0)
      throw new Error(
        `projection ${projection.name}: createTables made undeclared relations ${extra.join(', ')}`,
      );
  }
}

export function storedPosition(text: string | null | undefined): Position {
  return text ? parsePosition(text) : START;
}

/** Where a transaction writes its checkpoint, and how it refuses a checkpoint that moved. */
export interface CheckpointGuard {
  /** Locks the checkpoint's row and checks it still is `expected`; throws CheckpointMovedError. */
  lock(trx: Transaction<unknown>, expected: Position): Promise<void>;
  advance(trx: Transaction<unknown>, to: Position, applied: number): Promise<void>;
  /**
   * `lock` and `advance` in one statement, before the batch they are for, which also points the
   * transaction's search_path at `schema` (as `inSchema` does) for the rest of it: the runner's
   * own tables are not needed again before the commit, which puts the search_path back. Throws
   * as `lock` does, and the caller's transaction then rolls the move back.
   *
   * Only for a row nobody else writes during a batch: a row updated, not just locked, makes an
   * `INSERT … ON CONFLICT` of it wait for the batch (as `registerProjection` does for the status
   * row when an instance boots), where a locked one lets it through.
   */
  claim?(
    trx: Transaction<unknown>,
    expected: Position,
    to: Position,
    applied: number,
    schema: string,
  ): Promise<void>;
  /** Records a poison event (after the events before it were advanced past). */
  fail(trx: Transaction<unknown>, event: RecordedEvent, error: unknown): Promise<void>;
}

/** The live tables' checkpoint: the status row, valid only for this code's version. */
export function liveGuard(projection: Projection): CheckpointGuard {
  const name = projection.name;
  return {
    async lock(trx, expected) {
      const row = await lockStatusRow(trx, name);
      if (!row) throw new CheckpointMovedError(name, 'status row is gone');
      if (row.version !== projection.version)
        throw new CheckpointMovedError(name, `live tables are version ${row.version}`);
      if (row.state !== 'running' && row.state !== 'catching-up')
        throw new CheckpointMovedError(name, `state is ${row.state}`);
      if (comparePositions(storedPosition(row.position), expected) !== 0)
        throw new CheckpointMovedError(
          name,
          `checkpoint moved from ${formatPosition(expected)} to ${row.position}`,
        );
    },
    async advance(trx, to, applied) {
      await sql`UPDATE projection_status SET position = ${formatPosition(to)},
          events_processed = events_processed + ${applied}, updated_at = now()
        WHERE name = ${name}`.execute(trx);
    },
    async fail(trx, event, error) {
      await sql`UPDATE projection_status SET state = 'failed',
          error = ${errorMessage(error).slice(0, MAX_ERROR_LENGTH)},
          failed_event_id = ${event.id}, failed_position = ${formatPosition(event.position)},
          updated_at = now()
        WHERE name = ${name}`.execute(trx);
    },
  };
}

/** Announces which instance leads, and that it is catching up, unless an operator stopped it. */
export async function markLeading(db: Db, name: string, leader: string): Promise<void> {
  await sql`UPDATE projection_status SET leader = ${leader},
      state = CASE WHEN state = 'running' THEN 'catching-up' ELSE state END, updated_at = now()
    WHERE name = ${name}`.execute(db);
}

export async function markCaughtUp(db: Db, name: string): Promise<void> {
  await sql`UPDATE projection_status SET state = 'running', updated_at = now()
    WHERE name = ${name} AND state = 'catching-up'`.execute(db);
}

export async function clearLeader(db: Db, name: string, leader: string): Promise<void> {
  await sql`UPDATE projection_status SET leader = NULL
    WHERE name = ${name} AND leader = ${leader}`.execute(db);
}

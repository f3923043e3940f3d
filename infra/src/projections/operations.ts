import { type Kysely, sql } from 'kysely';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import { type EventStore, type Position, START, formatPosition } from '../event-store/types';
import { type ProjectionContext, resolveContext } from './context';
import { ProjectionStateError } from './errors';
import { type Projection } from './projection';
import {
  type StatusRow,
  lockStatusRow,
  quoteIdent,
  inSchema,
  registerProjection,
  verifyTables,
} from './status-rows';

/*
 * Operator actions. Each one changes the status row under its lock, so a runner's batch in
 * flight either commits before it (and the action applies on top) or finds its checkpoint moved
 * and starts again from what the action stored. Leading runners notice within their control
 * poll, or at once when they run in the same process (see Projections).
 */

type Db = Kysely<unknown>;

/** Drops and recreates the live tables and starts over from position 0 (the tables are empty meanwhile: rebuild avoids that). */
export async function resetProjection<DB>(
  projectionContext: ProjectionContext<DB>,
  projection: Projection,
): Promise<void> {
  const context = resolveContext(projectionContext);
  await registerProjection(context.db, projection, context.schema);
  await context.db.transaction().execute(async (trx) => {
    await lockStatusRow(trx, projection.name);
    const names = projection.tables
      .map((t) => `${quoteIdent(context.schema)}.${quoteIdent(t)}`)
      .join(', ');
    await sql.raw(`DROP TABLE IF EXISTS ${names}`).execute(trx);
    await inSchema(trx, context.schema, () => projection.createTables(trx, context.schema));
    await verifyTables(trx, projection, context.schema, false);
    await sql`UPDATE projection_status SET version = ${projection.version},
        event_types = ${[...projection.eventTypes]}, position = '0:0', events_processed = 0,
        state = CASE WHEN state = 'stopped' THEN 'stopped' ELSE 'catching-up' END,
        error = NULL, failed_event_id = NULL, failed_position = NULL, updated_at = now()
      WHERE name = ${projection.name}`.execute(trx);
  });
}

export type ReplayFrom = Position | Date;

/**
 * Moves the checkpoint so the events after `from` (a position, or the first event recorded at
 * or after a time) are applied again to the current tables. Meant for projections whose `apply`
 * is idempotent (upserts of what the event says), e.g. to repair rows after a fix; anything that
 * accumulates should be rebuilt instead. Clears a failure, since replaying is how a fixed
 * projection gets past the event that stopped it.
 */
export async function replayProjection<DB>(
  projectionContext: ProjectionContext<DB>,
  name: string,
  from: ReplayFrom,
): Promise<Position> {
  const context = resolveContext(projectionContext);
  const position = from instanceof Date ? await positionBefore(context.store, from) : from;
  if (!position)
    throw new ProjectionStateError(
      `nothing was recorded since ${from instanceof Date ? from.toISOString() : formatPosition(from)}`,
    );
  await updateLocked(context.db, name, async (trx) => {
    await sql`UPDATE projection_status SET position = ${formatPosition(position)},
        state = CASE WHEN state = 'stopped' THEN 'stopped' ELSE 'catching-up' END,
        error = NULL, failed_event_id = NULL, failed_position = NULL, updated_at = now()
      WHERE name = ${name}`.execute(trx);
  });
  return position;
}

/**
 * Moves a failed projection past the event that stopped it, once an operator has looked at
 * it. Refused unless `eventId` is that event: skipping must never be a guess.
 */
export async function skipEvent<DB>(
  projectionContext: ProjectionContext<DB>,
  name: string,
  eventId: string,
): Promise<void> {
  const context = resolveContext(projectionContext);
  await updateLocked(context.db, name, async (trx, row) => {
    if (row.state !== 'failed' || !row.failed_position)
      throw new ProjectionStateError(`projection ${name} has not failed: nothing to skip`);
    if (row.failed_event_id !== eventId)
      throw new ProjectionStateError(
        `projection ${name} failed on event ${row.failed_event_id}, not ${eventId}`,
      );
    await sql`UPDATE projection_status SET position = failed_position, state = 'catching-up',
        error = NULL, failed_event_id = NULL, failed_position = NULL, updated_at = now()
      WHERE name = ${name}`.execute(trx);
  });
}

/** Pauses a projection: its runner stops applying until `resumeProjection`. */
export async function stopProjection<DB>(
  projectionContext: ProjectionContext<DB>,
  name: string,
): Promise<void> {
  const context = resolveContext(projectionContext);
  await updateLocked(context.db, name, async (trx, row) => {
    if (row.state === 'failed')
      throw new ProjectionStateError(`projection ${name} has failed; skip, replay or rebuild it`);
    await sql`UPDATE projection_status SET state = 'stopped', updated_at = now()
      WHERE name = ${name}`.execute(trx);
  });
}

export async function resumeProjection<DB>(
  projectionContext: ProjectionContext<DB>,
  name: string,
): Promise<void> {
  const context = resolveContext(projectionContext);
  await updateLocked(context.db, name, async (trx, row) => {
    if (row.state !== 'stopped') return;
    await sql`UPDATE projection_status SET state = 'catching-up', updated_at = now()
      WHERE name = ${name}`.execute(trx);
  });
}

async function updateLocked(
  db: Db,
  name: string,
  change: (trx: Db, row: StatusRow) => Promise<void>,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await lockStatusRow(trx, name);
    if (!row) throw new ProjectionStateError(`no projection named ${name}`);
    await change(trx, row);
  });
}

/**
 * The checkpoint from which the first event recorded at or after `time` is applied next (the
 * position of the event before it in `$all`); undefined when nothing was recorded since.
 */
export async function positionBefore(store: EventStore, time: Date): Promise<Position | undefined> {
  if (store instanceof PostgresEventStore) return postgresPositionBefore(store, time);
  let previous = START;
  for (;;) {
    const events = await store.readAll({ after: previous, maxCount: 1_000 });
    if (events.length === 0) return undefined;
    for (const event of events) {
      if (event.createdAt >= time) return previous;
      previous = event.position;
    }
  }
}

/** Two index walks instead of a scan of `$all` through the client. */
async function postgresPositionBefore(
  store: PostgresEventStore,
  time: Date,
): Promise<Position | undefined> {
  const first = await store.pool.query<{ xid: string; pos: string }>(
    `SELECT transaction_id::text AS xid, global_position::text AS pos FROM es_events
     WHERE created_at >= $1 ORDER BY transaction_id, global_position LIMIT 1`,
    [time],
  );
  const at = first.rows[0];
  if (!at) return undefined;
  const before = await store.pool.query<{ xid: string; pos: string }>(
    `SELECT transaction_id::text AS xid, global_position::text AS pos FROM es_events
     WHERE (transaction_id, global_position) < ($1::xid8, $2::bigint)
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    [at.xid, at.pos],
  );
  const row = before.rows[0];
  return row ? { commit: BigInt(row.xid), prepare: BigInt(row.pos) } : START;
}

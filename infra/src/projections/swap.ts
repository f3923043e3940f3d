import { type Transaction, sql } from 'kysely';
import { type Position, comparePositions, formatPosition } from '../event-store/types';
import { sleep } from '../runtime/backoff';
import { type ResolvedContext } from './context';
import { errorMessage } from './errors';
import { type Projection } from './projection';
import { type RebuildJob, rebuildGuard } from './rebuild-job';
import { inSchema, lockStatusRow, quoteIdent } from './status-rows';

export interface SwapOptions {
  batchSize: number;
  /** How long the swap may queue for the live tables before it gives way and tries again. */
  lockTimeoutMs: number;
  attempts: number;
}

export interface SwapOutcome {
  position: Position;
  /** Events applied inside the swap (those that arrived since the build caught up). */
  tail: number;
}

/** SQLSTATEs of a swap that gave way to readers: lock_not_available, deadlock_detected. */
const GAVE_WAY = new Set(['55P03', '40P01']);

/**
 * Puts a caught-up rebuild in place of the live tables in one transaction, retried when it
 * gives way to readers. Readers of the live tables queue behind its lock for at most
 * `lockTimeoutMs` and then read the new tables: PostgreSQL looks a name up again when the
 * relation it waited for was dropped meanwhile.
 */
export async function swapRebuild(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  options: SwapOptions,
): Promise<SwapOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await swapOnce(context, projection, job, options);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!code || !GAVE_WAY.has(code) || attempt >= options.attempts) throw error;
      context.logger?.warn('projection swap gave way to readers, trying again', {
        projection: projection.name,
        attempt,
        error: errorMessage(error),
      });
      await sleep(50 * attempt);
    }
  }
}

async function swapOnce(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  options: SwapOptions,
): Promise<SwapOutcome> {
  const head = await context.store.headPosition();
  return context.db.transaction().execute(async (trx) => {
    await yieldOnDeadlock(trx);
    // The status row first, as every live batch does: a live batch in flight finishes, the next
    // one waits for this swap and then finds its checkpoint moved.
    const status = await lockStatusRow(trx, projection.name);
    if (!status) throw new Error(`projection ${projection.name} is not registered`);
    await rebuildGuard(projection, job).lock(trx, job.position);
    const tail = await inSchema(trx, job.schema, () =>
      applyTail(context, projection, job, trx, options.batchSize),
    );
    const position = head && comparePositions(head, tail.position) > 0 ? head : tail.position;
    await moveTables(trx, projection, job.schema, context.schema, options.lockTimeoutMs);
    await sql`UPDATE projection_status SET version = ${projection.version},
        schema_name = ${context.schema}, event_types = ${[...projection.eventTypes]},
        position = ${formatPosition(position)}, events_processed = ${job.eventsDone + tail.count},
        state = CASE WHEN state = 'stopped' THEN 'stopped' ELSE 'catching-up' END,
        error = NULL, failed_event_id = NULL, failed_position = NULL, updated_at = now()
      WHERE name = ${projection.name}`.execute(trx);
    await sql`DELETE FROM projection_rebuilds WHERE name = ${projection.name}`.execute(trx);
    return { position, tail: tail.count };
  });
}

/**
 * The events that arrived after the build caught up, applied to the new tables under the status
 * lock: nothing can be appended to them after the swap that they lack.
 */
async function applyTail(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  trx: Transaction<unknown>,
  batchSize: number,
): Promise<{ position: Position; count: number }> {
  const bound = trx.withSchema(job.schema);
  let position = job.position;
  let count = 0;
  for (;;) {
    const events = await context.store.readAll({
      after: position,
      filter: { eventTypes: [...projection.eventTypes] },
      maxCount: batchSize,
    });
    const last = events[events.length - 1];
    if (!last) return { position, count };
    const catalog = context.catalog;
    const prepared = catalog ? events.map((e) => ({ ...e, data: catalog.upcast(e) })) : events;
    await projection.apply(bound, prepared, { schema: job.schema, rebuilding: true });
    position = last.position;
    count += events.length;
  }
}

async function moveTables(
  trx: Transaction<unknown>,
  projection: Projection,
  from: string,
  to: string,
  lockTimeoutMs: number,
): Promise<void> {
  const live = await existingTables(trx, to, projection.tables);
  const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;
  await sql`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(trx);
  if (live.length > 0) {
    const names = live.map((t) => qualified(to, t)).join(', ');
    // Declared order, in one statement: readers that join them lock them in the same order.
    await sql.raw(`LOCK TABLE ${names} IN ACCESS EXCLUSIVE MODE`).execute(trx);
    await sql.raw(`DROP TABLE ${names}`).execute(trx);
  }
  for (const table of projection.tables) {
    await sql
      .raw(`ALTER TABLE ${qualified(from, table)} SET SCHEMA ${quoteIdent(to)}`)
      .execute(trx);
  }
  // RESTRICT: anything left behind (a type a column uses) must fail the swap, not vanish.
  await sql.raw(`DROP SCHEMA ${quoteIdent(from)} RESTRICT`).execute(trx);
}

async function existingTables(
  trx: Transaction<unknown>,
  schema: string,
  tables: readonly string[],
): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relname = ANY(${[...tables]}::text[])`.execute(trx);
  const found = new Set(rows.map((r) => r.name));
  return tables.filter((t) => found.has(t));
}

/**
 * A reader that locked one live table and waits for another can deadlock with the swap; the
 * side whose deadlock_timeout expires first is cancelled. Shortening ours makes that the swap,
 * which retries, rather than the reader. Only superusers may change it: elsewhere this is a no-op.
 */
async function yieldOnDeadlock(trx: Transaction<unknown>): Promise<void> {
  await sql`SAVEPOINT swap_settings`.execute(trx);
  try {
    await sql`SELECT set_config('deadlock_timeout', '100ms', true)`.execute(trx);
    await sql`RELEASE SAVEPOINT swap_settings`.execute(trx);
  } catch {
    await sql`ROLLBACK TO SAVEPOINT swap_settings`.execute(trx);
  }
}

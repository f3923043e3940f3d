import { type Transaction, sql } from 'kysely';
import { type Position, comparePositions, formatPosition } from '../event-store/types';
import { type ResolvedContext } from './context';
import { type Projection } from './projection';
import { type RebuildJob, rebuildGuard } from './rebuild-job';
import { lockStatusRow, quoteIdent, storedPosition } from './status-rows';

/**
 * - `swapped`: the new tables are live, continuing from `position`.
 * - `behind`: the live runner has applied past the rebuild since it caught up; build on and try
 *   again (swapping now would show readers older tables than the ones they just read).
 * - `gave-way`: readers held the live tables longer than the lock timeout, or a reader and the
 *   swap deadlocked; nothing changed.
 */
export type SwapOutcome = 'swapped' | 'behind' | 'gave-way';

/** SQLSTATEs of a swap that gave way to readers: lock_not_available, deadlock_detected. */
const GAVE_WAY = new Set(['55P03', '40P01']);

class Behind extends Error {}

/**
 * Puts a caught-up rebuild in place of the live tables in one transaction: the status row
 * first (as every live batch takes it, so a batch in flight finishes first and the next one
 * finds its checkpoint moved), then the live tables, dropped and replaced by the new ones.
 * Readers of the live tables queue behind the swap for at most `lockTimeoutMs`, then read the
 * new tables: PostgreSQL looks a name up again when the relation it waited for was dropped.
 *
 * Nothing here reads the event store, so the swap never needs a second pool connection while
 * it holds the status row that other connections of the pool may be waiting for.
 */
export async function swapRebuild(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  checkpoint: Position,
  lockTimeoutMs: number,
): Promise<SwapOutcome> {
  try {
    await context.db.transaction().execute(async (trx) => {
      await yieldOnDeadlock(trx);
      const status = await lockStatusRow(trx, projection.name);
      if (!status) throw new Error(`projection ${projection.name} is not registered`);
      await rebuildGuard(projection, job).lock(trx, job.position);
      const live = storedPosition(status.position);
      if (comparePositions(live, checkpoint) > 0) throw new Behind();
      await moveTables(trx, projection, job.schema, context.schema, lockTimeoutMs);
      await sql`UPDATE projection_status SET version = ${projection.version},
          schema_name = ${context.schema}, event_types = ${[...projection.eventTypes]},
          position = ${formatPosition(checkpoint)}, events_processed = ${job.eventsDone},
          state = CASE WHEN state = 'stopped' THEN 'stopped' ELSE 'catching-up' END,
          error = NULL, failed_event_id = NULL, failed_position = NULL, updated_at = now()
        WHERE name = ${projection.name}`.execute(trx);
      await sql`DELETE FROM projection_rebuilds WHERE name = ${projection.name}`.execute(trx);
    });
    return 'swapped';
  } catch (error) {
    if (error instanceof Behind) return 'behind';
    const code = (error as { code?: string }).code;
    if (code && GAVE_WAY.has(code)) return 'gave-way';
    throw error;
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
 * which tries again, rather than the reader. Only superusers may change it: elsewhere a no-op.
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

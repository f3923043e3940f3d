import { type Kysely, type Transaction, sql } from 'kysely';
import { type EventCatalog } from '../event-store/event-catalog';
import { type Position, type RecordedEvent } from '../event-store/types';
import { isTransientError } from './errors';
import { type Projection } from './projection';
import { type CheckpointGuard, inSchema } from './status-rows';

/** Where and how one batch is applied. */
export interface ApplyTarget {
  db: Kysely<unknown>;
  projection: Projection;
  /** The schema the tables are in (live or rebuild). */
  schema: string;
  guard: CheckpointGuard;
  catalog?: EventCatalog | undefined;
  rebuilding: boolean;
}

export interface IsolatedOutcome {
  /** Events applied and checkpointed before the poison one (or all of them). */
  applied: number;
  poison?: { event: RecordedEvent; error: unknown };
}

/**
 * Applies a batch and moves the checkpoint from `expected` to its last event in one
 * transaction; throws (and leaves nothing behind) if anything fails, including the guard's
 * check that nobody moved the checkpoint meanwhile. A guard that can claim the batch in one
 * statement saves three round trips of the six the runner's own work takes otherwise (a
 * rebuild's batches are short enough for that to count).
 */
export async function applyBatch(
  target: ApplyTarget,
  expected: Position,
  events: RecordedEvent[],
): Promise<void> {
  const last = events[events.length - 1];
  if (!last) return;
  const { guard } = target;
  await target.db.transaction().execute(async (trx) => {
    const work = () =>
      target.projection.apply(bind(trx, target), upcastAll(target, events), context(target));
    if (guard.claim) {
      await guard.claim(trx, expected, last.position, events.length, target.schema);
      await work();
      return;
    }
    await guard.lock(trx, expected);
    await inSchema(trx, target.schema, work);
    await guard.advance(trx, last.position, events.length);
  });
}

/**
 * After a batch failed: applies its events one at a time, each behind a savepoint, in one
 * transaction. The first event that fails on its own is the poison: the events before it are
 * checkpointed and the failure recorded together, so the projection stops exactly there. A
 * transient failure (connection, deadlock) rolls everything back and is rethrown instead.
 */
export async function applyIsolating(
  target: ApplyTarget,
  expected: Position,
  events: RecordedEvent[],
): Promise<IsolatedOutcome> {
  return target.db.transaction().execute(async (trx) => {
    await target.guard.lock(trx, expected);
    let applied = 0;
    for (const event of events) {
      await sql`SAVEPOINT projection_event`.execute(trx);
      try {
        await inSchema(trx, target.schema, () =>
          target.projection.apply(bind(trx, target), upcastAll(target, [event]), context(target)),
        );
        await sql`RELEASE SAVEPOINT projection_event`.execute(trx);
        applied += 1;
      } catch (error) {
        if (isTransientError(error)) throw error;
        // Also puts the search_path back as it was at the savepoint.
        await sql`ROLLBACK TO SAVEPOINT projection_event`.execute(trx);
        if (applied > 0) await target.guard.advance(trx, events[applied - 1]!.position, applied);
        await target.guard.fail(trx, event, error);
        return { applied, poison: { event, error } };
      }
    }
    if (applied > 0) await target.guard.advance(trx, events[applied - 1]!.position, applied);
    return { applied };
  });
}

function bind(trx: Transaction<unknown>, target: ApplyTarget): Transaction<unknown> {
  return trx.withSchema(target.schema);
}

function context(target: ApplyTarget) {
  return { schema: target.schema, rebuilding: target.rebuilding };
}

/** With a catalog, `apply` sees every event as the current version of its type, validated. */
function upcastAll(target: ApplyTarget, events: RecordedEvent[]): RecordedEvent[] {
  const catalog = target.catalog;
  if (!catalog) return events;
  return events.map((event) => ({ ...event, data: catalog.upcast(event) }));
}

import { type Kysely } from 'kysely';
import { type EventStore, type Position, comparePositions } from '../event-store/types';
import { type RebuildRow, loadRebuildRows } from './rebuild-job';
import { type StatusRow, type StoredState, loadStatusRows, storedPosition } from './status-rows';

export type { StoredState } from './status-rows';

/** What operators see: the stored state, or `rebuilding` while new tables are being built. */
export type ProjectionState = StoredState | 'rebuilding';

export interface ProjectionLag {
  /** Events of the projection's types after its checkpoint, counted up to the cap. */
  events: number;
  /** True when there are at least `events` (the count stopped at the cap). */
  capped: boolean;
  /** How long the oldest event it has not applied yet has waited; 0 when none. */
  seconds: number;
  head: Position | undefined;
}

export interface RebuildStatus {
  version: number;
  position: Position;
  eventsDone: number;
  state: 'building' | 'failed';
  error: string | undefined;
  startedAt: Date;
  updatedAt: Date;
}

export interface ProjectionStatus {
  name: string;
  /** The version the live tables were built by. */
  version: number;
  schema: string;
  eventTypes: string[];
  position: Position;
  state: ProjectionState;
  storedState: StoredState;
  error: string | undefined;
  failedEventId: string | undefined;
  failedPosition: Position | undefined;
  eventsProcessed: number;
  /** The instance whose runner leads, as it named itself. */
  leader: string | undefined;
  updatedAt: Date;
  /** Measured when an event store is given. */
  lag: ProjectionLag | undefined;
  rebuild: RebuildStatus | undefined;
}

export interface ListProjectionsOptions<DB = unknown> {
  db: Kysely<DB>;
  /** Measures lag against it; without it `lag` is left out. */
  store?: EventStore | undefined;
  /** Counting stops here (default 10,000): lag beyond it reads as "at least". */
  lagCap?: number;
}

/** Every projection's status, for the CLI, /readyz and /metrics; reads the runner's tables only. */
export async function listProjections<DB>(
  options: ListProjectionsOptions<DB>,
): Promise<ProjectionStatus[]> {
  const db = options.db as unknown as Kysely<unknown>;
  const [rows, rebuilds] = await Promise.all([loadStatusRows(db), loadRebuildRows(db)]);
  const rebuildOf = new Map(rebuilds.map((r) => [r.name, r]));
  const store = options.store;
  const head = store ? await store.headPosition() : undefined;
  return Promise.all(
    rows.map(async (row) => {
      const lag = store ? await measureLag(store, row, head, options.lagCap ?? 10_000) : undefined;
      return toStatus(row, rebuildOf.get(row.name), lag);
    }),
  );
}

async function measureLag(
  store: EventStore,
  row: StatusRow,
  head: Position | undefined,
  cap: number,
): Promise<ProjectionLag> {
  const position = storedPosition(row.position);
  if (!head || comparePositions(head, position) <= 0)
    return { events: 0, capped: false, seconds: 0, head };
  const pending = await store.readAll({
    after: position,
    filter: { eventTypes: row.event_types },
    maxCount: cap,
  });
  const oldest = pending[0];
  return {
    events: pending.length,
    capped: pending.length >= cap,
    seconds: oldest ? Math.max(0, (Date.now() - oldest.createdAt.getTime()) / 1000) : 0,
    head,
  };
}

function toStatus(
  row: StatusRow,
  rebuild: RebuildRow | undefined,
  lag: ProjectionLag | undefined,
): ProjectionStatus {
  const building = rebuild?.state === 'building';
  return {
    name: row.name,
    version: row.version,
    schema: row.schema_name,
    eventTypes: row.event_types,
    position: storedPosition(row.position),
    state: row.state !== 'failed' && building ? 'rebuilding' : row.state,
    storedState: row.state,
    error: row.error ?? undefined,
    failedEventId: row.failed_event_id ?? undefined,
    failedPosition: row.failed_position ? storedPosition(row.failed_position) : undefined,
    eventsProcessed: row.events_processed,
    leader: row.leader ?? undefined,
    updatedAt: row.updated_at,
    lag,
    rebuild: rebuild
      ? {
          version: rebuild.version,
          position: storedPosition(rebuild.position),
          eventsDone: rebuild.events_done,
          state: rebuild.state,
          error: rebuild.error ?? undefined,
          startedAt: rebuild.started_at,
          updatedAt: rebuild.updated_at,
        }
      : undefined,
  };
}

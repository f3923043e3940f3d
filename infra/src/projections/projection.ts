import { type Kysely, type Transaction } from 'kysely';
import { type DomainEvent } from '../domain';
import { type RecordedEvent } from '../event-store/types';

/** A stored event as a projection sees it: its data upcast to the current version of its type. */
export type ProjectedEvent<E extends DomainEvent = DomainEvent> = Omit<
  RecordedEvent,
  'type' | 'data'
> &
  E;

export interface ApplyContext {
  /** The schema `apply` writes into: the live one, or a rebuild's. */
  schema: string;
  /** True while the projection is being rebuilt beside its live tables. */
  rebuilding: boolean;
}

/**
 * What a service writes to define a read model. `apply` runs inside the runner's transaction,
 * which also moves the checkpoint, so it must only write to the projection's own tables and never
 * cause an effect outside the database (no messages, no provider calls): a rebuild replays it.
 */
export interface ProjectionDefinition<DB, E extends DomainEvent = DomainEvent> {
  /** Lowercase letters, digits and `_`; also names the rebuild schema and the leader lock. */
  name: string;
  /** Bump whenever the tables or what `apply` writes change: a newer version rebuilds. */
  version: number;
  /** The event types `apply` receives; every other event only moves the checkpoint. */
  eventTypes: readonly E['type'][];
  /**
   * Every table `createTables` makes, in the order readers that join them lock them: the swap
   * of a rebuild locks them in this order, which keeps it out of deadlocks with those readers.
   */
  tables: readonly string[];
  /**
   * Creates the tables (and their indexes) in `schema`. The transaction's search_path is that
   * schema too, so unqualified raw SQL lands there.
   */
  createTables(db: Kysely<DB>, schema: string): Promise<void>;
  /** Applies a batch, in order. Throwing rolls the batch back; see the runner for poison events. */
  apply(trx: Transaction<DB>, events: ProjectedEvent<E>[], context: ApplyContext): Promise<void>;
  /** Events per transaction for the live runner (default 500). */
  batchSize?: number;
}

/** A definition with its types erased, as the runner handles it. */
export interface Projection {
  readonly name: string;
  readonly version: number;
  readonly eventTypes: readonly string[];
  readonly tables: readonly string[];
  readonly batchSize: number | undefined;
  createTables(db: Kysely<unknown>, schema: string): Promise<void>;
  apply(trx: Transaction<unknown>, events: RecordedEvent[], context: ApplyContext): Promise<void>;
}

const IDENTIFIER = /^[a-z][a-z0-9_]*$/;
/** `rebuild_` plus the name must stay under PostgreSQL's 63-byte identifier limit. */
const MAX_NAME_LENGTH = 48;

export function defineProjection<DB, E extends DomainEvent = DomainEvent>(
  definition: ProjectionDefinition<DB, E>,
): Projection {
  const { name, version, eventTypes, tables } = definition;
  if (!IDENTIFIER.test(name) || name.length > MAX_NAME_LENGTH)
    throw new Error(`projection name ${JSON.stringify(name)}: use [a-z][a-z0-9_]{0,47}`);
  if (!Number.isInteger(version) || version < 1)
    throw new Error(`projection ${name}: version must be a positive integer`);
  if (eventTypes.length === 0) throw new Error(`projection ${name}: no event types`);
  if (tables.length === 0) throw new Error(`projection ${name}: no tables`);
  for (const table of tables) {
    if (!IDENTIFIER.test(table)) throw new Error(`projection ${name}: table name ${table}`);
  }
  return {
    name,
    version,
    eventTypes: [...eventTypes],
    tables: [...tables],
    batchSize: definition.batchSize,
    createTables: (db, schema) => definition.createTables(db as Kysely<DB>, schema),
    apply: (trx, events, context) =>
      definition.apply(trx as Transaction<DB>, events as ProjectedEvent<E>[], context),
  };
}

/** The schema a rebuild builds in, beside the live tables. */
export function rebuildSchemaOf(projection: Pick<Projection, 'name'>): string {
  return `rebuild_${projection.name}`;
}

import { type Kysely } from 'kysely';
import { type EventCatalog } from '../event-store/event-catalog';
import { type EventStore } from '../event-store/types';
import { type Logger } from '../logging/logger';

/** What every projection mechanism needs: the service's database and its event store. */
export interface ProjectionContext<DB = unknown> {
  /** The service's database (read models and the runner's status table). */
  db: Kysely<DB>;
  store: EventStore;
  /** The same database's URL, for the advisory locks (each on a connection of its own). */
  connectionString: string;
  /** When given, `apply` sees events upcast to their current version and validated. */
  catalog?: EventCatalog | undefined;
  logger?: Logger | undefined;
  /** Where the live tables are (default `public`, where the service's queries read). */
  schema?: string | undefined;
}

export interface ResolvedContext {
  db: Kysely<unknown>;
  store: EventStore;
  connectionString: string;
  catalog: EventCatalog | undefined;
  logger: Logger | undefined;
  schema: string;
}

export function resolveContext<DB>(context: ProjectionContext<DB>): ResolvedContext {
  return {
    // The runner only writes SQL of its own and hands the projection its own typed view.
    db: context.db as unknown as Kysely<unknown>,
    store: context.store,
    connectionString: context.connectionString,
    catalog: context.catalog,
    logger: context.logger,
    schema: context.schema ?? 'public',
  };
}

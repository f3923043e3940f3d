import type pg from 'pg';
import { type Logger } from '../logging/logger';
import { EsdbEventStore } from './esdb/esdb-event-store';
import { PostgresEventStore } from './postgres/postgres-event-store';
import { type EventStore } from './types';

export interface CreateEventStoreOptions {
  /** `esdb://…` selects EventStoreDB; unset selects PostgreSQL. */
  eventStoreUrl?: string | undefined;
  /** The service's own database, used when no EventStoreDB is configured. */
  pool: pg.Pool;
  databaseUrl: string;
  logger?: Logger;
}

/** Picks the adapter from configuration; service code only ever sees `EventStore`. */
export function createEventStore(options: CreateEventStoreOptions): EventStore {
  const url = options.eventStoreUrl;
  if (url && /^esdb(\+discover)?:\/\//.test(url)) {
    return new EsdbEventStore({
      connectionString: url,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }
  return new PostgresEventStore({
    pool: options.pool,
    connectionString: options.databaseUrl,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

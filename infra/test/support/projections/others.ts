import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type NewEvent, type RecordedEvent } from '../../../src/event-store/types';
import { type Projection, defineProjection } from '../../../src/projections/projection';

/** Counts events per type: a second projection beside accounts, that no account event stops. */
export function eventCountsProjection(): Projection {
  return defineProjection<unknown>({
    name: 'event_counts',
    version: 1,
    eventTypes: ['account.opened', 'account.deposited', 'account.withdrawn', 'account.renamed'],
    tables: ['event_counts'],
    async createTables(db) {
      await sql`CREATE TABLE event_counts (type text PRIMARY KEY, n integer NOT NULL)`.execute(db);
    },
    async apply(trx, events) {
      const counts = new Map<string, number>();
      for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      for (const [type, n] of counts)
        await sql`INSERT INTO event_counts (type, n) VALUES (${type}, ${n})
          ON CONFLICT (type) DO UPDATE SET n = event_counts.n + EXCLUDED.n`.execute(trx);
    },
  });
}

export async function readEventCounts(db: Kysely<unknown>): Promise<Record<string, number>> {
  const { rows } = await sql<{
    type: string;
    n: number;
  }>`SELECT type, n FROM event_counts ORDER BY type`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

export function countEvents(events: readonly RecordedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of [...events].sort((a, b) => (a.type < b.type ? -1 : 1)))
    counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}

/**
 * Each account's current owner: an upsert of what the event says, so applying an event again
 * changes nothing. The kind of projection `replay` is meant for.
 */
export function ownersProjection(): Projection {
  return defineProjection<unknown>({
    name: 'owners',
    version: 1,
    eventTypes: ['account.opened', 'account.renamed'],
    tables: ['account_owners'],
    async createTables(db) {
      await sql`CREATE TABLE account_owners (id text PRIMARY KEY, owner text NOT NULL)`.execute(db);
    },
    async apply(trx, events) {
      for (const e of events) {
        const data = e.data as { accountId: string; owner: string };
        await sql`INSERT INTO account_owners (id, owner) VALUES (${data.accountId}, ${data.owner})
          ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner`.execute(trx);
      }
    },
  });
}

export async function readOwners(db: Kysely<unknown>): Promise<Record<string, string>> {
  const { rows } = await sql<{
    id: string;
    owner: string;
  }>`SELECT id, owner FROM account_owners ORDER BY id`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.id, r.owner]));
}

export function foldOwners(events: readonly RecordedEvent[]): Record<string, string> {
  const owners: Record<string, string> = {};
  for (const e of events) {
    if (e.type !== 'account.opened' && e.type !== 'account.renamed') continue;
    const data = e.data as { accountId: string; owner: string };
    owners[data.accountId] = data.owner;
  }
  return Object.fromEntries(Object.entries(owners).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function renamed(accountId: string, owner: string): NewEvent {
  return {
    type: 'account.renamed',
    data: { accountId, owner },
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

export function unrelatedEvent(): NewEvent {
  return {
    type: 'unrelated.happened',
    data: {},
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

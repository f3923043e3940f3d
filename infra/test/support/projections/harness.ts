import { randomUUID } from 'node:crypto';
import { type Kysely } from 'kysely';
import {
  type Database,
  type NewEvent,
  type Position,
  PostgresEventStore,
  type Projection,
  type ProjectionContext,
  ProjectionRunner,
  type ProjectionRunnerOptions,
  Projections,
  type ProjectionsOptions,
  type RecordedEvent,
  START,
  comparePositions,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase, eventually } from '@meetmatt/infra/testing';

/** A fresh database with infra's tables, its event store, and what projections need. */
export interface Harness {
  testDb: TestDatabase;
  database: Database;
  db: Kysely<unknown>;
  store: PostgresEventStore;
  context: ProjectionContext;
  /** Runners started through `runner`, stopped by `close`. */
  runners: ProjectionRunner[];
  runner(projection: Projection, options?: Partial<ProjectionRunnerOptions>): ProjectionRunner;
  /** A service's set of projections, as ServiceHost builds it; stopped by `close`. */
  projections(projections: Projection[], options?: Partial<ProjectionsOptions>): Projections;
  append(streamId: string, events: NewEvent[]): Promise<Position>;
  /** Appends each history to its own stream, `concurrency` at a time; returns the last position. */
  appendMany(histories: NewEvent[][], concurrency?: number): Promise<Position>;
  /** Every event in `$all`, once everything appended through the harness is visible. */
  allEvents(): Promise<RecordedEvent[]>;
  checkpoint(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export async function createHarness(prefix = 'proj'): Promise<Harness> {
  const testDb = await createTestDatabase(prefix);
  // Few connections: many suites share the server, whose limit is 100.
  const database = createDatabase({ url: testDb.url, max: 6 });
  await migrateAll(database.db, {});
  const store = new PostgresEventStore({
    pool: database.pool,
    connectionString: testDb.url,
    pollIntervalMs: 200,
  });
  const context: ProjectionContext = { db: database.db, store, connectionString: testDb.url };
  const runners: ProjectionRunner[] = [];
  const sets: Projections[] = [];
  // A transaction open anywhere on the server (other tests' too) holds back what `$all` shows.
  let lastAppended: Position = START;
  const fast = { leaderRetryMs: 50, controlPollMs: 50, checkpointIntervalMs: 50 };
  const harness: Harness = {
    testDb,
    database,
    db: database.db,
    store,
    context,
    runners,
    runner(projection, options = {}) {
      const runner = new ProjectionRunner({ ...context, projection, ...fast, ...options });
      runners.push(runner);
      return runner;
    },
    projections(projections, options = {}) {
      const set = new Projections({ ...context, projections, ...fast, ...options });
      sets.push(set);
      return set;
    },
    async append(streamId, events) {
      const { position } = await store.appendToStream(streamId, events, {
        expectedRevision: 'any',
      });
      if (comparePositions(position, lastAppended) > 0) lastAppended = position;
      return position;
    },
    async appendMany(histories, concurrency = 8) {
      let next = 0;
      let last: Position = START;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = next++; i < histories.length; i = next++) {
            const position = await harness.append(`account-${randomUUID()}`, histories[i]!);
            if (comparePositions(position, last) > 0) last = position;
          }
        }),
      );
      return last;
    },
    async allEvents() {
      await eventually('every appended event is visible', async () => {
        const head = await store.headPosition();
        return !!head && comparePositions(head, lastAppended) >= 0;
      });
      const events: RecordedEvent[] = [];
      for (;;) {
        const page = await store.readAll({
          after: events.at(-1)?.position ?? START,
          maxCount: 5_000,
        });
        if (page.length === 0) return events;
        events.push(...page);
      }
    },
    async checkpoint(name) {
      const { rows } = await database.pool.query<{ position: string }>(
        'SELECT position FROM projection_status WHERE name = $1',
        [name],
      );
      return rows[0]?.position;
    },
    async close() {
      // A test that failed while holding a batch open must not leave its runner stuck in it.
      for (const open of openGates) open();
      await Promise.all([...runners.map((r) => r.stop()), ...sets.map((s) => s.stop())]);
      await store.close();
      await database.close();
      await testDb.drop();
    },
  };
  return harness;
}

const openGates = new Set<() => void>();

/** A promise the test resolves when it chooses: holds a batch open without a sleep. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  openGates.add(open);
  return { wait, open };
}

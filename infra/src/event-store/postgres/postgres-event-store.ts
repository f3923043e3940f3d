import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type Logger } from '../../logging/logger';
import { WrongExpectedRevisionError } from '../errors';
import {
  type AllFilter,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  START,
  comparePositions,
  type StreamInfo,
  type SubscribeToAllOptions,
  type Subscription,
} from '../types';
import { AppendBatcher } from './append-batcher';
import { ChangeNotifier } from './change-notifier';
import { PostgresSubscription } from './postgres-subscription';
import { TIMESTAMPTZ, parseTimestamptz } from './timestamps';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EVENT_COLUMNS = `transaction_id::text AS xid, global_position::text AS pos, event_id, stream_id,
  stream_revision, event_type, data, metadata, created_at`;

/** A row of es_events as the adapter selects it (see `recordedFromRow`). */
export interface EventRow {
  xid: string;
  pos: string;
  event_id: string;
  stream_id: string;
  stream_revision: number | string;
  event_type: string;
  data: unknown;
  metadata: EventMetadata;
  created_at: Date;
}

interface AppendRow {
  actual: number | string | null;
  revision: number | string | null;
  position: number | string | null;
  xid: string | null;
}

/**
 * How `readVisible` parses its columns, whatever parsers the pool was given: with pg's own
 * (int8 as text, which the mapping converts), except timestamps, which the mapping parses itself.
 */
const READ_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === TIMESTAMPTZ && format !== 'binary') return (value: string) => value;
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

type Queryable = Pick<pg.Pool | pg.PoolClient | pg.Client, 'query'>;

/**
 * The visibility horizon, as a CTE named `snap` with one column `xmin`: the oldest transaction
 * still in progress in the statement's snapshot that may have appended to es_events (or the
 * snapshot's xmax when none may have). Reading below it skips nothing: every transaction below
 * has finished, or never wrote here.
 *
 * Which may have appended: an append takes its lock on es_events (RowExclusiveLock) before its
 * transaction has an id, and holds it to the end (`appendWith` refuses a transaction that wrote
 * elsewhere first). So a transaction that is running, with an id, and holds no such lock never
 * appended and never will: the projections' batches, the inbox, the outbox, checkpoints and
 * other databases' transactions no longer hold readers back (they did with the snapshot's own
 * xmin, and every event waited for them under load).
 *
 * The order of the checks is what makes it safe. One scan of pg_locks gives the running ids
 * (each transaction's lock on its own id) and the es_events locks, matched by backend. A
 * transaction without one is let pass only if `pg_xact_status` says it is still in progress
 * AFTER that scan (CASE fixes the order): a transaction leaves the running set before it
 * releases its locks, so one still running then held all its locks during the scan. Without
 * that check, an appender that committed between the snapshot and the scan (its table lock
 * already released, its id's lock not yet) would pass, and its events would be skipped.
 */
const HORIZON_CTE = `
  snapshot AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
  locks AS MATERIALIZED (
    SELECT locktype, database, relation, transactionid, mode, granted, pid
    FROM pg_locks WHERE locktype IN ('relation', 'transactionid')
  ),
  lockless AS MATERIALIZED (
    SELECT t.transactionid FROM locks t
    WHERE t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock' AND t.granted
      AND NOT EXISTS (
        SELECT 1 FROM locks r
        WHERE r.locktype = 'relation' AND r.relation = 'es_events'::regclass
          AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND r.mode = 'RowExclusiveLock' AND r.pid = t.pid)
  ),
  snap AS MATERIALIZED (
    SELECT coalesce(
      (SELECT min(x) FROM pg_snapshot_xip(snapshot.s) AS x
       WHERE NOT CASE
         WHEN EXISTS (SELECT 1 FROM lockless l WHERE l.transactionid = xid(x))
           THEN pg_xact_status(x) = 'in progress'
         ELSE false
       END),
      pg_snapshot_xmax(snapshot.s)
    ) AS xmin
    FROM snapshot
  )`;

/** Whether a transaction may append now: it has no id yet, or it already appended. */
const MAY_APPEND_SQL = `
  SELECT pg_current_xact_id_if_assigned() IS NULL OR EXISTS (
    SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'
      AND relation = 'es_events'::regclass AND mode = 'RowExclusiveLock') AS ok`;

/**
 * One append in one statement. The expected revision is checked against the stream's last
 * revision as this statement sees it; a writer that commits the same revisions first makes the
 * insert fail on the (stream, revision) unique constraint, which is the conflict.
 */
const APPEND_SQL = `
  WITH current AS (
    SELECT max(stream_revision) AS revision FROM es_events WHERE stream_id = $1
  ), base AS (
    SELECT current.revision AS actual,
      CASE $2::text
        WHEN 'no_stream' THEN CASE WHEN current.revision IS NULL THEN -1 END
        WHEN 'exact' THEN CASE WHEN current.revision = $3::bigint THEN current.revision END
        WHEN 'stream_exists' THEN current.revision
        ELSE coalesce(current.revision, -1)
      END AS revision
    FROM current
  ), inserted AS (
    INSERT INTO es_events (event_id, stream_id, stream_revision, event_type, data, metadata)
    SELECT e.id, $1, base.revision + e.n, e.type, e.data, e.metadata
    FROM base, unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[]) WITH ORDINALITY AS e(id, type, data, metadata, n)
    WHERE base.revision IS NOT NULL
    RETURNING global_position, stream_revision
  )
  SELECT (SELECT actual FROM base) AS actual,
         max(stream_revision) AS revision,
         max(global_position)::text AS position,
         CASE WHEN count(*) > 0 THEN pg_current_xact_id()::text END AS xid
  FROM inserted`;

export interface PostgresEventStoreOptions {
  pool: pg.Pool;
  /** For the LISTEN connection; without it subscribers poll. */
  connectionString?: string;
  logger?: Logger;
  /** How often an idle subscriber looks for events when no notification came. */
  pollIntervalMs?: number;
  /** Append statements in flight at once through the pool; more appends wait and are batched. */
  appendConcurrency?: number;
}

/** What one `$all` read saw, beyond the events. */
export interface VisibleRead {
  events: RecordedEvent[];
  /** Committed events exist that an open older transaction still holds back. */
  heldBack: boolean;
  /** The newest position below the snapshot's xmin: everything up to it has been examined. */
  visibleHead: Position | undefined;
}

/**
 * The embedded event store: `$all` in the service's own PostgreSQL database.
 * See schema.ts for why reads follow (transaction id, position) and not the position alone.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  readonly notifier: ChangeNotifier;
  private readonly subscriptions = new Set<PostgresSubscription>();
  private readonly batcher: AppendBatcher;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.notifier = new ChangeNotifier(options.pool, options.connectionString, options.logger);
    this.batcher = new AppendBatcher({
      pool: options.pool,
      one: (append) =>
        this.appendPrepared(options.pool, append.streamId, append.events, append.expected),
      ...(options.appendConcurrency ? { concurrency: options.appendConcurrency } : {}),
    });
  }

  get pool(): pg.Pool {
    return this.options.pool;
  }

  async appendToStream(
    streamId: string,
    events: NewEvent[],
    options: { expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    const expected = options.expectedRevision;
    if (events.length === 0) return this.appendWith(this.options.pool, streamId, events, expected);
    checkStreamId(streamId);
    const withIds = withEventIds(events);
    // 'any' and 'stream_exists' cannot conflict by definition: a race with another appender only
    // means reading the new end and inserting after it.
    const attempts = expected === 'any' || expected === 'stream_exists' ? 10 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.batcher.append(streamId, withIds, expected);
        this.notifier.appended();
        return result;
      } catch (error) {
        if (
          !(error instanceof WrongExpectedRevisionError) ||
          attempt >= attempts ||
          error.actual === 'no_stream'
        ) {
          throw error;
        }
      }
    }
  }

  /**
   * Appends through a client the caller chose, possibly inside its own transaction (PostgreSQL
   * only), so an append can commit or roll back together with other writes; call
   * `notifier.appended()` after the commit. The transaction's first write must be an append
   * (other writes may follow): readers of `$all` only wait for transactions that appended first. A conflict raises WrongExpectedRevisionError and, as
   * any failed statement does, aborts the caller's transaction.
   */
  async appendWith(
    client: Queryable,
    streamId: string,
    events: NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    checkStreamId(streamId);
    if (events.length === 0) return this.checkOnly(streamId, expected);
    const { rows } = await client.query<{ ok: boolean }>(MAY_APPEND_SQL);
    if (!rows[0]?.ok)
      throw new Error(
        'append first in a transaction: it wrote elsewhere before its first append, and readers of $all would not wait for it (see HORIZON_CTE)',
      );
    return this.appendPrepared(client, streamId, withEventIds(events), expected);
  }

  /** `appendWith` for a checked stream id and events that carry their (checked) ids. */
  private async appendPrepared(
    client: Queryable,
    streamId: string,
    events: (NewEvent & { id: string })[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    const [kind, exact] = typeof expected === 'number' ? ['exact', expected] : [expected, null];
    let row: AppendRow | undefined;
    try {
      ({
        rows: [row],
      } = await client.query<AppendRow>({
        // Named, so each connection plans it once: planning the CTE costs more than running it.
        name: 'es-append',
        text: APPEND_SQL,
        values: [
          streamId,
          kind,
          exact,
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata)),
        ],
      }));
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === '23505' && constraint === 'es_events_stream_revision') {
        throw new WrongExpectedRevisionError(
          streamId,
          expected,
          await this.currentRevision(streamId),
        );
      }
      throw error;
    }
    if (!row || row.revision === null) {
      throw new WrongExpectedRevisionError(
        streamId,
        expected,
        row?.actual == null ? 'no_stream' : Number(row.actual),
      );
    }
    return {
      nextExpectedRevision: Number(row.revision),
      position: { commit: BigInt(row.xid!), prepare: BigInt(row.position!) },
    };
  }

  private async currentRevision(streamId: string): Promise<number | 'no_stream'> {
    const { rows } = await this.options.pool.query<{ revision: number | null }>(
      'SELECT max(stream_revision) AS revision FROM es_events WHERE stream_id = $1',
      [streamId],
    );
    const revision = rows[0]?.revision;
    return revision == null ? 'no_stream' : Number(revision);
  }

  private async checkOnly(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const actual = await this.currentRevision(streamId);
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && actual === 'no_stream') ||
      (expected === 'stream_exists' && actual !== 'no_stream') ||
      expected === actual;
    if (!ok) throw new WrongExpectedRevisionError(streamId, expected, actual);
    const head = await this.headPosition();
    return { nextExpectedRevision: actual === 'no_stream' ? -1 : actual, position: head ?? START };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const limit = options.maxCount ?? 10_000;
    const bound =
      from === 'start' || from === 'end'
        ? ''
        : backwards
          ? 'AND stream_revision <= $3'
          : 'AND stream_revision >= $3';
    const params: unknown[] = [streamId, limit];
    if (bound) params.push(from);
    const { rows } = await this.options.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events WHERE stream_id = $1 ${bound}
       ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'} LIMIT $2`,
      params,
    );
    return rows.map(recordedFromRow);
  }

  /**
   * The events of `readVisible` without its state row: a reader of `$all` that only wants events
   * (a projection's rebuild, the operator's tools) skips the head lookup: two index scans from
   * the end of es_events per batch, which on 100,000 freshly written (not yet vacuumed) events
   * took 8 of the read's 12 ms in EXPLAIN ANALYZE. Same horizon, so no late commit is skipped.
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? START;
    const params: unknown[] = [
      after.commit.toString(),
      after.prepare.toString(),
      options.maxCount ?? 1_000,
    ];
    const conditions = filterConditions(options.filter, params);
    const text = `WITH ${HORIZON_CTE}
       SELECT NULL, NULL, NULL, ${EVENT_COLUMNS} FROM es_events
       WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND transaction_id < (SELECT xmin FROM snap)
         ${conditions}
       ORDER BY transaction_id, global_position
       LIMIT $3`;
    const { rows } = await this.options.pool.query<ReadRow>({
      name: `es-read-events-${filterShape(options.filter)}`,
      text,
      values: params,
      rowMode: 'array',
      types: READ_TYPES,
    });
    return recordedFromReadRows(rows);
  }

  /**
   * Reads committed events after `after` that no open transaction can still precede. One
   * statement, so the events, the held-back flag and the visible head share one snapshot: a
   * filtered reader may checkpoint at `visibleHead` without skipping anything.
   */
  async readVisible(
    after: Position,
    limit: number,
    filter: AllFilter | undefined,
  ): Promise<VisibleRead> {
    const params: unknown[] = [after.commit.toString(), after.prepare.toString(), limit];
    const conditions = filterConditions(filter, params);
    // The state's row, then the events' rows: the state's three columns on every event's row
    // (as a lateral join would put them) would cost a rebuild a tenth of its reading.
    const text = `WITH ${HORIZON_CTE},
       state AS MATERIALIZED (
         SELECT coalesce((SELECT max(transaction_id) FROM es_events) >= snap.xmin, false) AS held,
                h.xid AS head_xid, h.pos AS head_pos
         FROM snap LEFT JOIN LATERAL (
           SELECT transaction_id::text AS xid, global_position::text AS pos FROM es_events
           WHERE transaction_id < snap.xmin
           ORDER BY transaction_id DESC, global_position DESC LIMIT 1
         ) h ON true
       )
       SELECT held, head_xid, head_pos, NULL AS xid, NULL AS pos, NULL AS event_id,
         NULL AS stream_id, NULL AS stream_revision, NULL AS event_type, NULL AS data,
         NULL AS metadata, NULL AS created_at
       FROM state
       UNION ALL
       (SELECT NULL, NULL, NULL, ${EVENT_COLUMNS} FROM es_events
         WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
           AND transaction_id < (SELECT xmin FROM snap)
           ${conditions}
         ORDER BY transaction_id, global_position
         LIMIT $3)`;
    const { rows } = await this.options.pool.query<ReadRow>({
      name: `es-read-${filterShape(filter)}`,
      text,
      values: params,
      rowMode: 'array',
      types: READ_TYPES,
    });
    const state = rows.find((row) => row[5] === null);
    const events = recordedFromReadRows(rows);
    // UNION ALL keeps each branch's order, but nothing promises it: check, and sort if not.
    if (!inOrder(events)) events.sort((a, b) => comparePositions(a.position, b.position));
    return {
      events,
      heldBack: state?.[0] ?? false,
      visibleHead:
        state?.[1] && state[2]
          ? { commit: BigInt(state[1]), prepare: BigInt(state[2]) }
          : undefined,
    };
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    const subscription = new PostgresSubscription(
      this,
      options,
      this.options.logger,
      this.options.pollIntervalMs ?? 1_000,
    );
    this.subscriptions.add(subscription);
    void subscription.done.then(
      () => this.subscriptions.delete(subscription),
      () => this.subscriptions.delete(subscription),
    );
    return subscription;
  }

  async streamExists(streamId: string): Promise<boolean> {
    const { rowCount } = await this.options.pool.query(
      'SELECT 1 FROM es_events WHERE stream_id = $1 LIMIT 1',
      [streamId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** The newest position a reader can see (no open transaction can still precede it). */
  async headPosition(): Promise<Position | undefined> {
    const { rows } = await this.options.pool.query<{ xid: string; pos: string }>(
      `SELECT transaction_id::text AS xid, global_position::text AS pos FROM es_events
       WHERE transaction_id < (WITH ${HORIZON_CTE} SELECT xmin FROM snap)
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row ? { commit: BigInt(row.xid), prepare: BigInt(row.pos) } : undefined;
  }

  /** Committed events after `position`, counted up to `cap`. */
  async countAfter(position: Position, cap = 1_000_000): Promise<number> {
    const { rows } = await this.options.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM es_events WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) LIMIT $3) s`,
      [position.commit.toString(), position.prepare.toString(), cap],
    );
    return rows[0]?.n ?? 0;
  }

  /** How long the oldest open transaction (which holds every subscriber back) has been open. */
  async oldestOpenTransactionMs(): Promise<number> {
    const { rows } = await this.options.pool.query<{ ms: number | null }>(
      `SELECT (EXTRACT(EPOCH FROM (clock_timestamp() - min(xact_start))) * 1000)::float8 AS ms
       FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()`,
    );
    return Math.max(0, Math.round(rows[0]?.ms ?? 0));
  }

  /**
   * Streams in id order. Walks the (stream, revision) index one stream at a time (a loose index
   * scan), so a page costs `limit` index probes however long the streams are.
   */
  async listStreams(
    options: { prefix?: string; after?: string; limit?: number } = {},
  ): Promise<StreamInfo[]> {
    const { rows } = await this.options.pool.query<{
      stream_id: string;
      revision: number;
      updated_at: Date;
    }>(
      `WITH RECURSIVE walk(stream_id) AS (
         (SELECT stream_id FROM es_events WHERE stream_id >= $1 AND stream_id > $2 AND starts_with(stream_id, $1)
          ORDER BY stream_id LIMIT 1)
         UNION ALL
         SELECT (SELECT e.stream_id FROM es_events e WHERE e.stream_id > walk.stream_id ORDER BY e.stream_id LIMIT 1)
         FROM walk WHERE walk.stream_id IS NOT NULL AND starts_with(walk.stream_id, $1)
       )
       SELECT w.stream_id, last.stream_revision AS revision, last.created_at AS updated_at
       FROM (SELECT stream_id FROM walk WHERE stream_id IS NOT NULL AND starts_with(stream_id, $1) LIMIT $3) w
       CROSS JOIN LATERAL (
         SELECT stream_revision, created_at FROM es_events e
         WHERE e.stream_id = w.stream_id ORDER BY stream_revision DESC LIMIT 1
       ) last
       ORDER BY w.stream_id`,
      [options.prefix ?? '', options.after ?? '', options.limit ?? 100],
    );
    return rows.map((r) => ({
      streamId: r.stream_id,
      revision: Number(r.revision),
      updatedAt: r.updated_at,
    }));
  }

  async readEvent(eventId: string): Promise<RecordedEvent | undefined> {
    if (!UUID.test(eventId)) return undefined;
    const { rows } = await this.options.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events WHERE event_id = $1`,
      [eventId],
    );
    return rows[0] ? recordedFromRow(rows[0]) : undefined;
  }

  async ping(): Promise<void> {
    await this.options.pool.query('SELECT 1 FROM es_events LIMIT 1');
  }

  /** Stops every subscription and the listener; the pool belongs to the caller. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.notifier.close();
  }
}

function checkStreamId(streamId: string): void {
  if (!streamId || streamId.startsWith('$'))
    throw new Error(`invalid stream id ${JSON.stringify(streamId)}`);
}

/** The events with their ids: the ones given (checked), new ones for the others. */
function withEventIds(events: NewEvent[]): (NewEvent & { id: string })[] {
  return events.map((event) => {
    if (event.id === undefined) return { ...event, id: randomUUID() };
    if (!UUID.test(event.id)) throw new Error(`event id ${event.id} is not a UUID`);
    return event as NewEvent & { id: string };
  });
}

function filterConditions(filter: AllFilter | undefined, params: unknown[]): string {
  if (!filter) return '';
  const parts: string[] = [];
  if (filter.streamPrefixes?.length) {
    params.push(filter.streamPrefixes);
    parts.push(
      `EXISTS (SELECT 1 FROM unnest($${params.length}::text[]) p WHERE starts_with(stream_id, p))`,
    );
  }
  if (filter.eventTypes?.length) {
    params.push(filter.eventTypes);
    parts.push(`event_type = ANY($${params.length}::text[])`);
  }
  if (filter.eventTypePrefixes?.length) {
    params.push(filter.eventTypePrefixes);
    parts.push(
      `EXISTS (SELECT 1 FROM unnest($${params.length}::text[]) p WHERE starts_with(event_type, p))`,
    );
  }
  return parts.map((p) => `AND ${p}`).join(' ');
}

/** Names the prepared statement for one shape of filter (which fields are set, not their values). */
function filterShape(filter: AllFilter | undefined): string {
  return ['streamPrefixes', 'eventTypes', 'eventTypePrefixes']
    .map((key) => ((filter?.[key as keyof AllFilter]?.length ?? 0) > 0 ? '1' : '0'))
    .join('');
}

/**
 * A row of `readVisible` as an array: the state's columns (held, head_xid, head_pos), then
 * EVENT_COLUMNS in their order with `created_at` unparsed. The state's row has only the first
 * three, the events' rows only the others.
 */
type ReadRow = [
  held: boolean | null,
  headXid: string | null,
  headPos: string | null,
  xid: string,
  pos: string,
  eventId: string | null,
  streamId: string,
  streamRevision: number | string,
  eventType: string,
  data: unknown,
  metadata: EventMetadata,
  createdAt: string,
];

/**
 * The events of `readVisible`'s rows. The events of one append share their transaction id and
 * (unless given) their timestamp, so each is parsed once per run of equal values; every event
 * still gets a Date of its own.
 */
function recordedFromReadRows(rows: readonly ReadRow[]): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  let xid: string | undefined;
  let commit = 0n;
  let createdText: string | undefined;
  let created = new Date(0);
  for (const row of rows) {
    const id = row[5];
    if (id === null) continue;
    if (row[3] !== xid) {
      xid = row[3];
      commit = BigInt(xid);
    }
    if (row[11] !== createdText) {
      createdText = row[11];
      created = parseTimestamptz(createdText);
    }
    events.push({
      id,
      type: row[8],
      data: row[9],
      metadata: row[10],
      streamId: row[6],
      revision: Number(row[7]),
      position: { commit, prepare: BigInt(row[4]) },
      createdAt: new Date(created),
    });
  }
  return events;
}

function inOrder(events: readonly RecordedEvent[]): boolean {
  for (let i = 1; i < events.length; i++)
    if (comparePositions(events[i - 1]!.position, events[i]!.position) > 0) return false;
  return true;
}

/**
 * A stored event from its row; the columns are selected as `transaction_id::text AS xid,
 * global_position::text AS pos, event_id, stream_id, stream_revision, event_type, data, metadata,
 * created_at` (an operator's tool querying es_events directly uses it too).
 */
export function recordedFromRow(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    revision: Number(row.stream_revision),
    position: { commit: BigInt(row.xid), prepare: BigInt(row.pos) },
    createdAt: row.created_at,
  };
}

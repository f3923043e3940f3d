import type pg from 'pg';
import { WrongExpectedRevisionError } from '../errors';
import { type AppendResult, type ExpectedRevision, type NewEvent } from '../types';

/** An append waiting for its turn: its events already carry their ids. */
export interface PendingAppend {
  streamId: string;
  events: (NewEvent & { id: string })[];
  expected: ExpectedRevision;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** One append on its own, with the single-stream statement (the one transactions use too). */
export type AppendOne = (append: PendingAppend) => Promise<AppendResult>;

/**
 * Every append of a batch in one statement: each stream's expected revision is checked on its
 * own, so one append's conflict only fails that append. Two appends to the same stream never
 * share a batch (the second would not see the first's revisions). Rows go in in stream order, so
 * two batches in flight that both touch two streams take their index entries in the same order
 * and cannot deadlock on each other.
 */
const APPEND_MANY_SQL = `
  WITH req AS (
    SELECT r.i, r.s, r.k, r.x,
      (SELECT max(stream_revision) FROM es_events e WHERE e.stream_id = r.s) AS actual
    FROM jsonb_to_recordset($1::jsonb) AS r(i int, s text, k text, x bigint)
  ), base AS (
    SELECT i, s, actual,
      CASE k
        WHEN 'no_stream' THEN CASE WHEN actual IS NULL THEN -1 END
        WHEN 'exact' THEN CASE WHEN actual = x THEN actual END
        WHEN 'stream_exists' THEN actual
        ELSE coalesce(actual, -1)
      END AS revision
    FROM req
  ), inserted AS (
    INSERT INTO es_events (event_id, stream_id, stream_revision, event_type, data, metadata)
    SELECT e.id, b.s, b.revision + e.n, e.t, e.d, e.m
    FROM jsonb_to_recordset($2::jsonb) AS e(r int, n int, id uuid, t text, d jsonb, m jsonb)
    JOIN base b ON b.i = e.r
    WHERE b.revision IS NOT NULL
    ORDER BY b.s, e.n
    RETURNING stream_id, stream_revision, global_position
  )
  SELECT b.i, b.actual, max(ins.stream_revision) AS revision,
    max(ins.global_position)::text AS position,
    CASE WHEN count(ins.stream_id) > 0 THEN pg_current_xact_id()::text END AS xid
  FROM base b LEFT JOIN inserted ins ON ins.stream_id = b.s
  GROUP BY b.i, b.actual
  ORDER BY b.i`;

interface ManyRow {
  i: number;
  actual: number | string | null;
  revision: number | string | null;
  position: string | null;
  xid: string | null;
}

export interface AppendBatcherOptions {
  pool: pg.Pool;
  one: AppendOne;
  /** Statements in flight at once; appends arriving meanwhile wait and go together. */
  concurrency?: number;
  /** Appends per statement at most. */
  maxBatch?: number;
}

/**
 * Group commit for appends through the pool. While `concurrency` append statements are in
 * flight, new appends queue; when one finishes, everything queued (up to `maxBatch`, one append
 * per stream) goes in one statement and one transaction. A lone append is never delayed: it is
 * sent as soon as a slot is free, with the single-stream statement. Under load this turns many
 * round trips, commits and WAL flushes into one, which on a small machine is most of an
 * append's cost (each round trip wakes a PostgreSQL backend that competes for the same cores).
 *
 * Each append keeps its own outcome: a wrong expected revision fails that append alone. A
 * batch the database refuses as a whole (a concurrent writer took one of its revisions between
 * the read and the insert, a duplicate event id, a value jsonb refuses, a deadlock) is sent
 * again one append at a time, so the error lands on the append that caused it.
 */
export class AppendBatcher {
  private readonly queue: PendingAppend[] = [];
  private inFlight = 0;
  private readonly concurrency: number;
  private readonly maxBatch: number;

  constructor(private readonly options: AppendBatcherOptions) {
    this.concurrency = options.concurrency ?? 2;
    this.maxBatch = options.maxBatch ?? 100;
  }

  append(
    streamId: string,
    events: (NewEvent & { id: string })[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ streamId, events, expected, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      void this.send(batch).finally(() => {
        this.inFlight -= 1;
        this.drain();
      });
    }
  }

  /** The oldest queued appends, one per stream, in arrival order; the rest keep theirs. */
  private take(): PendingAppend[] {
    if (this.queue.length === 1) return this.queue.splice(0, 1);
    const batch: PendingAppend[] = [];
    const streams = new Set<string>();
    const rest: PendingAppend[] = [];
    for (const append of this.queue) {
      if (batch.length < this.maxBatch && !streams.has(append.streamId)) {
        streams.add(append.streamId);
        batch.push(append);
      } else {
        rest.push(append);
      }
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async send(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      await settle(batch[0]!, this.options.one);
      return;
    }
    let rows: ManyRow[];
    try {
      ({ rows } = await this.options.pool.query<ManyRow>({
        name: 'es-append-many',
        text: APPEND_MANY_SQL,
        values: manyParams(batch),
      }));
    } catch (error) {
      if (!retriedOneByOne(error)) {
        for (const append of batch) append.reject(error);
        return;
      }
      await Promise.all(batch.map((append) => settle(append, this.options.one)));
      return;
    }
    for (const row of rows) {
      const append = batch[row.i]!;
      if (row.revision === null) {
        const actual = row.actual === null ? 'no_stream' : Number(row.actual);
        append.reject(new WrongExpectedRevisionError(append.streamId, append.expected, actual));
      } else {
        append.resolve({
          nextExpectedRevision: Number(row.revision),
          position: { commit: BigInt(row.xid!), prepare: BigInt(row.position!) },
        });
      }
    }
  }
}

async function settle(append: PendingAppend, one: AppendOne): Promise<void> {
  try {
    append.resolve(await one(append));
  } catch (error) {
    append.reject(error);
  }
}

/** The batch as two JSON documents: one row per append, one per event. */
function manyParams(batch: PendingAppend[]): [string, string] {
  const requests: unknown[] = [];
  const events: unknown[] = [];
  batch.forEach((append, i) => {
    const { expected } = append;
    const [k, x] = typeof expected === 'number' ? ['exact', expected] : [expected, null];
    requests.push({ i, s: append.streamId, k, x });
    append.events.forEach((event, n) => {
      events.push({
        r: i,
        n: n + 1,
        id: event.id,
        t: event.type,
        d: event.data,
        m: event.metadata,
      });
    });
  });
  return [JSON.stringify(requests), JSON.stringify(events)];
}

/**
 * A statement the database refused because of what one of the appends carried (class 22: a
 * value; class 23: a constraint) or because it met another writer (class 40: a deadlock with a
 * transaction appending to several streams in another order), not because the database or the
 * connection failed: sent again one append at a time, each gets its own outcome.
 */
function retriedOneByOne(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && ['22', '23', '40'].includes(code.slice(0, 2));
}

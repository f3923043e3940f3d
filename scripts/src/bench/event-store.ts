/**
 * `npm run bench -- event-store`: appends per second with 16 concurrent writers, one event per
 * append, through the PostgreSQL event store (expected-revision check, stream row, xid stamp),
 * against plain INSERTs of the same rows through pg in the same run; then `$all` read throughput.
 */
import { randomUUID } from 'node:crypto';
import { PostgresEventStore, START, createDatabase, migrateAll } from '@meetmatt/infra';
import { createTestDatabase } from '@meetmatt/infra/testing';
import { type BenchReport, runConcurrently } from './harness';

const WRITERS = 16;
const APPENDS = Number(process.env.BENCH_APPENDS ?? 20_000);
const ROUNDS = 3;

const payload = () => ({
  paymentId: randomUUID(),
  amount: '49.00',
  currency: 'usd',
  status: 'waiting',
  payAddress: 'bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh',
});
const metadata = () => ({
  correlationId: randomUUID(),
  causationId: randomUUID(),
  userId: randomUUID(),
  schemaVersion: 1,
});

export default async function bench(): Promise<BenchReport> {
  const testDb = await createTestDatabase('bench_es');
  const database = createDatabase({ url: testDb.url, max: WRITERS + 2 });
  try {
    await migrateAll(database.db, {});
    await database.pool.query(`
      CREATE TABLE baseline_events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL, stream_id text NOT NULL, stream_revision bigint NOT NULL,
        event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())`);
    const store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });

    const ours: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const revisions = new Array<number>(WRITERS).fill(-1);
      const streams = Array.from({ length: WRITERS }, () => `payment-${randomUUID()}`);
      const baseSeconds = await runConcurrently(APPENDS, WRITERS, async (i, worker) => {
        await database.pool.query(
          `INSERT INTO baseline_events (event_id, stream_id, stream_revision, event_type, data, metadata)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [
            randomUUID(),
            streams[worker],
            i,
            'payment.created',
            JSON.stringify(payload()),
            JSON.stringify(metadata()),
          ],
        );
      });
      baseline.push(APPENDS / baseSeconds);
      const oursSeconds = await runConcurrently(APPENDS, WRITERS, async (_i, worker) => {
        const expected = revisions[worker]!;
        const result = await store.appendToStream(
          streams[worker]!,
          [{ type: 'payment.created', data: payload(), metadata: metadata() }],
          { expectedRevision: expected < 0 ? 'no_stream' : expected },
        );
        revisions[worker] = result.nextExpectedRevision;
      });
      ours.push(APPENDS / oursSeconds);
    }

    // $all read throughput: every event appended above, in batches, as a catch-up reader does.
    const readRates: number[] = [];
    let total = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let after = START;
      let count = 0;
      const started = process.hrtime.bigint();
      for (;;) {
        const { events } = await store.readVisible(after, 2_000, undefined);
        if (events.length === 0) break;
        count += events.length;
        after = events[events.length - 1]!.position;
      }
      readRates.push(count / (Number(process.hrtime.bigint() - started) / 1e9));
      total = count;
    }
    await store.close();

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(' / ');
    return {
      name: 'event-store',
      unit: 'appends/s',
      ours: median(ours),
      baseline: median(baseline),
      rows: [
        {
          label: `append, ${WRITERS} writers, 1 event each (median)`,
          'per second': Math.round(median(ours)),
          runs: fmt(ours),
        },
        {
          label: 'baseline: plain INSERT of the same rows',
          'per second': Math.round(median(baseline)),
          runs: fmt(baseline),
        },
        {
          label: `$all read, batches of 2,000 (${total.toLocaleString('en-US')} events)`,
          'per second': Math.round(median(readRates)),
          runs: fmt(readRates),
        },
      ],
      notes: [
        `${APPENDS.toLocaleString('en-US')} appends per run, ${ROUNDS} runs each, baseline and ours alternating.`,
        'Targets: append ratio >= 0.5 of the baseline; $all reads >= 50,000 events/s.',
      ],
    };
  } finally {
    await database.close();
    await testDb.drop();
  }
}

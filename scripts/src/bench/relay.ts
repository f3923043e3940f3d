/**
 * `npm run bench -- relay`: events relayed per second from the PostgreSQL event store to a bound
 * quorum queue, with publisher confirms and a checkpoint per batch, against raw amqplib publishes
 * of the same messages (bodies and properties prepared beforehand) on a confirm channel to the
 * same exchange and queue in the same run, waiting for every confirm.
 *
 * BENCH_EVENTS (20,000), BENCH_ROUNDS (5), BENCH_RELAY_BATCH (500) and BENCH_RELAY_DEPTH (3
 * batches in flight) change the run.
 */
import { randomUUID } from 'node:crypto';
import amqp, { type ConfirmChannel } from 'amqplib';
import {
  BrokerConnection,
  CheckpointStore,
  type NewEvent,
  PostgresEventStore,
  type RecordedEvent,
  Relay,
  comparePositions,
  consumerTopology,
  createDatabase,
  createLogger,
  declareConsumerTopology,
  migrateAll,
  toCloudEvent,
  toMessage,
} from '@meetmatt/infra';
import { createTestDatabase, createTestVhost } from '@meetmatt/infra/testing';
import { type BenchReport } from './harness';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const BATCH = Number(process.env.BENCH_RELAY_BATCH ?? 500);
const DEPTH = Number(process.env.BENCH_RELAY_DEPTH ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EXCHANGE = 'bench.events';
const QUEUE = 'bench-service.relayed';
const SOURCE = 'bench-service';

const newEvent = (): NewEvent => ({
  id: randomUUID(),
  type: 'payment.created',
  data: {
    paymentId: randomUUID(),
    amount: '49.00',
    currency: 'usd',
    status: 'waiting',
    payAddress: 'bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh',
  },
  metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
});

export default async function bench(): Promise<BenchReport> {
  const [testDb, vhost] = await Promise.all([
    createTestDatabase('bench_relay'),
    createTestVhost('bench_relay'),
  ]);
  const database = createDatabase({ url: testDb.url, max: 8 });
  const logger = createLogger({ service: 'bench', level: 'warn' });
  const broker = new BrokerConnection({ url: vhost.url, logger, name: 'bench-relay' });
  const raw = await amqp.connect(vhost.url);
  try {
    await migrateAll(database.db, {});
    const store = new PostgresEventStore({ pool: database.pool, connectionString: testDb.url });
    await fill(store);
    const events = await readEverything(store);
    const channel = await raw.createConfirmChannel();
    await declareConsumerTopology(
      channel,
      consumerTopology(QUEUE, [{ exchange: EXCHANGE, routingKey: '#' }], [1_000]),
    );
    await broker.start();

    const ours: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      baseline.push(EVENTS / (await rawPublish(channel, events)));
      await emptyQueue(channel);
      ours.push(EVENTS / (await relayAll(store, broker, testDb.url, logger, round)));
      await emptyQueue(channel);
    }
    await store.close();
    return report(ours, baseline);
  } finally {
    await broker.close();
    await raw.close().catch(() => undefined);
    await database.close();
    await Promise.all([testDb.drop(), vhost.drop()]);
  }
}

/** EVENTS events in streams of ten, stored before anything is timed. */
async function fill(store: PostgresEventStore): Promise<void> {
  for (let stored = 0; stored < EVENTS; stored += 10) {
    const batch = Array.from({ length: Math.min(10, EVENTS - stored) }, newEvent);
    await store.appendToStream(`payment-${randomUUID()}`, batch, { expectedRevision: 'no_stream' });
  }
}

async function readEverything(store: PostgresEventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const last = events[events.length - 1];
    const page = await store.readAll({
      maxCount: 5_000,
      ...(last ? { after: last.position } : {}),
    });
    if (page.length === 0) return events;
    events.push(...page);
  }
}

/** Seconds to publish the prepared messages on a confirm channel and get every confirm. */
async function rawPublish(channel: ConfirmChannel, events: RecordedEvent[]): Promise<number> {
  const messages = events.map((event) => toMessage(toCloudEvent(event, SOURCE)));
  const started = process.hrtime.bigint();
  for (const { routingKey, content, options } of messages) {
    if (!channel.publish(EXCHANGE, routingKey, content, options)) {
      await new Promise((resolve) => channel.once('drain', resolve));
    }
  }
  await channel.waitForConfirms();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Seconds for a relay starting from nothing to checkpoint the store's head. */
async function relayAll(
  store: PostgresEventStore,
  broker: BrokerConnection,
  databaseUrl: string,
  logger: ReturnType<typeof createLogger>,
  round: number,
): Promise<number> {
  const head = (await store.headPosition())!;
  const relay = new Relay({
    service: SOURCE,
    exchange: EXCHANGE,
    eventStore: store,
    checkpoints: new CheckpointStore(store.pool),
    broker,
    databaseUrl,
    logger,
    name: `relay-bench-${round}`,
    batchSize: BATCH,
    pipelineDepth: DEPTH,
  });
  const started = process.hrtime.bigint();
  const done = new Promise<void>((resolve) =>
    relay.on('checkpoint', (position: typeof head) => {
      if (comparePositions(position, head) >= 0) resolve();
    }),
  );
  relay.start();
  await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await relay.stop();
  return seconds;
}

async function emptyQueue(channel: ConfirmChannel): Promise<void> {
  const { messageCount } = await channel.checkQueue(QUEUE);
  if (messageCount !== EVENTS) throw new Error(`${QUEUE} holds ${messageCount}, not ${EVENTS}`);
  await channel.purgeQueue(QUEUE);
}

function report(ours: number[], baseline: number[]): BenchReport {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(' / ');
  return {
    name: 'relay',
    unit: 'events/s',
    ours: median(ours),
    baseline: median(baseline),
    rows: [
      {
        label: `relay: store → exchange → quorum queue, ${DEPTH} batches of ${BATCH} in flight (median)`,
        'per second': Math.round(median(ours)),
        runs: fmt(ours),
      },
      {
        label: 'baseline: raw amqplib confirm-channel publishes of the same messages',
        'per second': Math.round(median(baseline)),
        runs: fmt(baseline),
      },
    ],
    notes: [
      `${EVENTS.toLocaleString('en-US')} events per run, ${ROUNDS} runs each, baseline and ours alternating.`,
      'The relay reads $all, encodes, publishes, waits for the confirms and saves its checkpoint per batch.',
      'Target: ratio >= 0.9 (issue 17).',
    ],
  };
}

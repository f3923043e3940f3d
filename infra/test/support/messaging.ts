import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { defineEvent } from '@meetmatt/contracts';
import {
  BrokerConnection,
  CheckpointStore,
  type ConsumedEvent,
  Consumer,
  type ConsumerOptions,
  type Database,
  EventCatalog,
  type Logger,
  Metrics,
  PostgresEventStore,
  Inbox,
  createDatabase,
  createLogger,
  migrateAll,
} from '@meetmatt/infra';
import {
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
} from '@meetmatt/infra/testing';

/** Test events: one plain, one at version 2 with an upcaster from version 1. */
export const orderPlaced = defineEvent(
  'order.placed',
  z.object({ orderId: z.string(), amount: z.number().int().positive() }),
  { description: 'an order was placed' },
);
export const orderShipped = defineEvent(
  'order.shipped',
  z.object({ orderId: z.string(), carrier: z.string() }),
  {
    description: 'an order was shipped',
    version: 2,
    upcasters: { 1: (data) => ({ ...(data as object), carrier: 'unknown' }) },
  },
);
export const testEvents = [orderPlaced, orderShipped] as const;
export const catalog = new EventCatalog(testEvents);

export const TEST_EXCHANGE = 'shop.events';
export const TEST_SOURCE = 'shop-service';

export function quietLogger(): Logger {
  return createLogger({ service: 'test', level: process.env.LOG_LEVEL ?? 'silent' });
}

/**
 * One test file's servers: a fresh database (migrated, with an `effects` table the handlers write
 * to, and no unique key on it, so a duplicate that got past the inbox would show), a fresh vhost,
 * an event store and a broker connection.
 */
export interface MessagingWorld {
  db: TestDatabase;
  vhost: TestVhost;
  database: Database<EffectsDb>;
  store: PostgresEventStore;
  checkpoints: CheckpointStore;
  logger: Logger;
  metrics: Metrics;
  connections: BrokerConnection[];
  /** A broker connection to the test vhost (optionally to another URL, a proxy say). */
  connect(url?: string): Promise<BrokerConnection>;
  /** A plain amqplib connection, for looking at queues from outside the bus. */
  raw(): Promise<ChannelModel>;
  close(): Promise<void>;
}

export interface EffectsDb {
  effects: { message_id: string; type: string; data: unknown };
}

export async function createWorld(prefix: string): Promise<MessagingWorld> {
  const [db, vhost] = await Promise.all([createTestDatabase(prefix), createTestVhost(prefix)]);
  const database = createDatabase<EffectsDb>({ url: db.url, max: 8 });
  await migrateAll(database.db as Kysely<unknown>, {});
  await sql`CREATE TABLE effects (message_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL)`.execute(
    database.db,
  );
  const logger = quietLogger();
  const store = new PostgresEventStore({
    pool: database.pool,
    connectionString: db.url,
    pollIntervalMs: 200,
  });
  const raws: ChannelModel[] = [];
  const world: MessagingWorld = {
    db,
    vhost,
    database,
    store,
    checkpoints: new CheckpointStore(database.pool),
    logger,
    metrics: new Metrics('test', { defaultMetrics: false }),
    connections: [],
    async connect(url = vhost.url) {
      const broker = new BrokerConnection({
        url,
        logger,
        name: `test-${randomUUID()}`,
        minDelayMs: 50,
        maxDelayMs: 500,
      });
      world.connections.push(broker);
      await broker.start(5_000);
      return broker;
    },
    async raw() {
      const open = raws[0];
      if (open) return open;
      const model = await amqp.connect(vhost.url);
      model.on('error', () => undefined);
      model.on('close', () => raws.splice(raws.indexOf(model), 1));
      raws.push(model);
      return model;
    },
    async close() {
      await Promise.all(world.connections.map((c) => c.close()));
      await Promise.all(raws.map((r) => r.close().catch(() => undefined)));
      await store.close();
      await database.close();
      await Promise.all([db.drop(), vhost.drop()]);
    },
  };
  return world;
}

/** `count` order.placed events, each in a stream of its own. */
export async function appendOrders(store: PostgresEventStore, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await appendOrder(store));
  return ids;
}

export async function appendOrder(store: PostgresEventStore, amount = 10): Promise<string> {
  const orderId = randomUUID();
  const event = catalog.toNew(
    { type: 'order.placed', data: { orderId, amount } },
    { correlationId: randomUUID(), causationId: randomUUID(), userId: randomUUID() },
  );
  const id = randomUUID();
  await store.appendToStream(`order-${orderId}`, [{ ...event, id }], {
    expectedRevision: 'no_stream',
  });
  return id;
}

/**
 * A consumer of the test events whose handler records an effect through the inbox; `before`
 * runs first in each delivery (to fail on purpose, count, look at the envelope).
 */
export function inboxConsumer(
  world: MessagingWorld,
  broker: BrokerConnection,
  queue: string,
  overrides: Partial<ConsumerOptions<typeof testEvents>> & {
    before?: (event: ConsumedEvent) => void | Promise<void>;
  } = {},
): Consumer<typeof testEvents> {
  const inbox = new Inbox(world.database.db, queue);
  const { before, ...rest } = overrides;
  return new Consumer({
    broker,
    logger: world.logger,
    metrics: world.metrics,
    queue,
    exchange: TEST_EXCHANGE,
    events: testEvents,
    retryDelaysMs: [50, 100],
    prefetch: 8,
    handle: async (event) => {
      await before?.(event);
      return inbox.once(event.id, async (trx) => {
        await trx
          .insertInto('effects')
          .values({ message_id: event.id, type: event.type, data: JSON.stringify(event.data) })
          .execute();
      });
    },
    ...rest,
  });
}

/** Effects recorded, by message id. */
export async function effectCounts(world: MessagingWorld): Promise<Map<string, number>> {
  const rows = await world.database.db
    .selectFrom('effects')
    .select(['message_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('message_id')
    .execute();
  return new Map(rows.map((r) => [r.message_id, Number(r.n)]));
}

/** A counter's value from the registry, by labels. */
export async function counterValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A CloudEvent body as a publisher would write it, with overrides. */
export function cloudEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: TEST_SOURCE,
    type: 'order.placed',
    subject: `order-${randomUUID()}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    dataschemaversion: 1,
    correlationid: randomUUID(),
    causationid: randomUUID(),
    data: { orderId: randomUUID(), amount: 5 },
    ...overrides,
  };
}

/** Publishes bodies to the test exchange from outside the bus, with confirms. */
export async function publishRaw(
  world: MessagingWorld,
  messages: { routingKey?: string; body: Buffer | Record<string, unknown>; messageId?: string }[],
): Promise<void> {
  const model = await world.raw();
  const channel = await model.createConfirmChannel();
  await channel.assertExchange(TEST_EXCHANGE, 'topic', { durable: true });
  for (const message of messages) {
    const body = Buffer.isBuffer(message.body)
      ? message.body
      : Buffer.from(JSON.stringify(message.body));
    const id = Buffer.isBuffer(message.body) ? undefined : (message.body.id as string | undefined);
    channel.publish(TEST_EXCHANGE, message.routingKey ?? 'order.placed', body, {
      persistent: true,
      contentType: 'application/cloudevents+json',
      ...((message.messageId ?? id) ? { messageId: message.messageId ?? id } : {}),
    });
  }
  await channel.waitForConfirms();
  await channel.close();
}

/** Takes every message currently in `queue`, acking them. */
export async function drain(world: MessagingWorld, queue: string): Promise<amqp.GetMessage[]> {
  const model = await world.raw();
  const channel = await model.createChannel();
  const taken: amqp.GetMessage[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (!message) break;
    taken.push(message);
  }
  await channel.close();
  return taken;
}

/** How many messages sit in `queue` (ready ones). */
export async function depth(world: MessagingWorld, queue: string): Promise<number> {
  const model = await world.raw();
  const channel = await model.createChannel();
  const { messageCount } = await channel.checkQueue(queue);
  await channel.close();
  return messageCount;
}

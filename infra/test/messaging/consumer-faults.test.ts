import { randomUUID } from 'node:crypto';
import { parkingQueueName } from '@meetmatt/contracts';
import { type BrokerConnection, type Consumer } from '@meetmatt/infra';
import {
  type MessagingWorld,
  cloudEvent,
  counterValue,
  createWorld,
  depth,
  effectCounts,
  inboxConsumer,
  publishRaw,
  type testEvents,
} from '../support/messaging';
import { eventually } from '@meetmatt/infra/testing';

describe('consumers under stuck handlers and shutdown', () => {
  let world: MessagingWorld;
  let broker: BrokerConnection;
  const consumers: Consumer<typeof testEvents>[] = [];

  beforeAll(async () => {
    world = await createWorld('consumerfault');
    broker = await world.connect();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await world?.close();
  });

  const freshQueue = () => `shop-fault.${randomUUID().slice(0, 8)}`;

  test('when a handler hangs past its budget, then the message goes to its retry and the next attempt handles it', async () => {
    const queue = freshQueue();
    const attempts: number[] = [];
    const consumer = inboxConsumer(world, broker, queue, {
      retryDelaysMs: [100, 200],
      handlerTimeoutMs: 300,
      stopTimeoutMs: 200,
      before: async (event) => {
        attempts.push(event.attempts);
        // The first attempt waits on something that never answers.
        if (attempts.length === 1) await new Promise<never>(() => undefined);
      },
    });
    consumers.push(consumer);
    consumer.start();
    await consumer.whenConsuming();
    const event = cloudEvent();
    const publishedAt = Date.now();
    await publishRaw(world, [{ body: event }]);

    await eventually(
      'the retried attempt to succeed',
      async () => (await effectCounts(world)).get(event.id as string) === 1,
      5_000,
    );
    expect(Date.now() - publishedAt).toBeLessThan(3_000);
    expect(attempts).toEqual([0, 1]);
    expect(await counterValue(world.metrics, 'bus_retried_total', { queue })).toBe(1);
    expect(await depth(world, parkingQueueName(queue))).toBe(0);
  });

  test('when a consumer stops while its handlers hang, then stop ends within its bound and the unfinished messages are delivered again to the next consumer', async () => {
    const queue = freshQueue();
    const first = inboxConsumer(world, broker, queue, {
      handlerTimeoutMs: 60_000,
      stopTimeoutMs: 300,
      before: () => new Promise<never>(() => undefined),
    });
    first.start();
    await first.whenConsuming();
    const events = [cloudEvent(), cloudEvent(), cloudEvent()];
    await publishRaw(
      world,
      events.map((body) => ({ body })),
    );
    await eventually('the handlers to start', () => first.handling === 3, 5_000);

    const stopping = Date.now();
    await first.stop();
    expect(Date.now() - stopping).toBeLessThan(3_000);

    const second = inboxConsumer(world, broker, queue);
    consumers.push(second);
    second.start();
    await second.whenConsuming();
    await eventually(
      'every message to be handled by the next consumer',
      async () => {
        const counts = await effectCounts(world);
        return events.every((e) => counts.get(e.id as string) === 1);
      },
      10_000,
    );
  });
});

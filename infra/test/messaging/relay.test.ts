import { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { busHeaders, CLOUDEVENTS_CONTENT_TYPE } from '@meetmatt/contracts';
import {
  type BrokerConnection,
  EventPublisher,
  Relay,
  type RelayOptions,
  comparePositions,
  relayReadiness,
  republishEvents,
  runReadiness,
} from '@meetmatt/infra';
import { TcpProxy, testServers, eventually } from '@meetmatt/infra/testing';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  appendOrder,
  appendOrders,
  catalog,
  counterValue,
  createWorld,
  depth,
  drain,
} from '../support/messaging';

describe('the relay', () => {
  let world: MessagingWorld;
  const relays: Relay[] = [];

  beforeEach(async () => {
    world = await createWorld('relay');
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await world.close();
  });

  function relay(overrides: Partial<RelayOptions> = {}): Relay {
    const created = new Relay({
      service: TEST_SOURCE,
      exchange: TEST_EXCHANGE,
      eventStore: world.store,
      checkpoints: world.checkpoints,
      broker: world.connections[0]!,
      databaseUrl: world.db.url,
      logger: world.logger,
      metrics: world.metrics,
      leaderRetryMs: 100,
      ...overrides,
    });
    relays.push(created);
    return created;
  }

  /** A publisher to the test exchange, as the relay makes one. */
  function testPublisher(broker: BrokerConnection): EventPublisher {
    return new EventPublisher({
      broker,
      exchange: TEST_EXCHANGE,
      source: TEST_SOURCE,
      logger: world.logger,
    });
  }

  /** A queue bound to the test exchange for `keys`, declared before anything is published. */
  async function boundQueue(keys: string[] = ['#']): Promise<string> {
    const queue = `tap-${randomUUID().slice(0, 8)}`;
    const channel = await (await world.raw()).createChannel();
    await channel.assertExchange(TEST_EXCHANGE, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    for (const key of keys) await channel.bindQueue(queue, TEST_EXCHANGE, key);
    await channel.close();
    return queue;
  }

  async function caughtUp(subject: Relay): Promise<void> {
    await eventually('the relay at the head of the store', async () => {
      const head = await world.store.headPosition();
      const position = subject.status().position;
      return !!head && !!position && comparePositions(position, head) >= 0;
    });
  }

  test('when a batch of events is published, then it leaves in a few socket writes, not one per message, and arrives whole and in order', async () => {
    const broker = await world.connect();
    const queue = await boundQueue();
    await Promise.all(Array.from({ length: 300 }, () => appendOrder(world.store)));
    const events = await world.store.readAll();
    expect(events).toHaveLength(300);
    const publisher = testPublisher(broker);
    // Every write to a broker socket while the batch is published (no other client is busy).
    const socketPrototype = Socket.prototype as unknown as {
      _writeGeneric: (this: Socket, ...args: unknown[]) => unknown;
    };
    const original = socketPrototype._writeGeneric;
    let writes = 0;
    socketPrototype._writeGeneric = function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === Number(new URL(testServers.rabbitmqUrl).port || 5672)) writes += 1;
      return original.apply(this, args);
    };
    try {
      const report = await publisher.publish(events);
      expect(report).toEqual({ confirmed: 300, unroutable: [] });
    } finally {
      socketPrototype._writeGeneric = original;
      await publisher.stop();
    }
    expect(writes).toBeLessThan(30);
    const received = await drain(world, queue);
    expect(received.map((m) => m.properties.messageId as string)).toEqual(events.map((e) => e.id));
  });

  test('when a second batch is published while the first is still being handed to the broker, then the broker receives them in order', async () => {
    const broker = await world.connect();
    const queue = await boundQueue();
    await Promise.all(Array.from({ length: 400 }, () => appendOrder(world.store)));
    const events = await world.store.readAll();
    const publisher = testPublisher(broker);
    try {
      // As the relay does: the next batch starts before the previous one is confirmed.
      const reports = await Promise.all([
        publisher.publish(events.slice(0, 200)),
        publisher.publish(events.slice(200)),
      ]);
      expect(reports.map((r) => r.confirmed)).toEqual([200, 200]);
    } finally {
      await publisher.stop();
    }
    const received = await drain(world, queue);
    expect(received.map((m) => m.properties.messageId as string)).toEqual(events.map((e) => e.id));
  });

  test('when events are stored, then each is published in order as a persistent CloudEvent whose message id is the event id, and the checkpoint follows the confirms', async () => {
    await world.connect();
    const queue = await boundQueue();
    const ids = await appendOrders(world.store, 4);
    const shipped = catalog.toNew(
      { type: 'order.shipped', data: { orderId: 'o-9', carrier: 'dhl' } },
      { correlationId: 'corr-1', causationId: 'cause-1', userId: 'user-1' },
    );
    await world.store.appendToStream('order-o-9', [{ ...shipped, id: randomUUID() }], {
      expectedRevision: 'any',
    });
    const [stored] = await world.store.readStream('order-o-9');

    const subject = relay();
    subject.start();
    await caughtUp(subject);
    expect(await world.checkpoints.load('relay')).toEqual(await world.store.headPosition());

    const messages = await drain(world, queue);
    expect(messages.map((m) => m.properties.messageId as string)).toEqual([...ids, stored!.id]);
    const last = messages[4]!;
    expect(last.fields.routingKey).toBe('order.shipped');
    expect(last.properties).toMatchObject({
      contentType: CLOUDEVENTS_CONTENT_TYPE,
      deliveryMode: 2,
      messageId: stored!.id,
      type: 'order.shipped',
      appId: TEST_SOURCE,
      correlationId: 'corr-1',
    });
    expect(JSON.parse(last.content.toString())).toEqual({
      specversion: '1.0',
      id: stored!.id,
      source: TEST_SOURCE,
      type: 'order.shipped',
      subject: 'order-o-9',
      time: stored!.createdAt.toISOString(),
      datacontenttype: 'application/json',
      dataschemaversion: 2,
      correlationid: 'corr-1',
      causationid: 'cause-1',
      userid: 'user-1',
      data: { orderId: 'o-9', carrier: 'dhl' },
    });
    expect(
      await counterValue(world.metrics, 'bus_confirmed_total', { exchange: TEST_EXCHANGE }),
    ).toBe(5);
  });

  test('when no queue is bound for a type, then the event is confirmed as unroutable, counted, and the relay moves on', async () => {
    await world.connect();
    const queue = await boundQueue(['order.shipped']);
    await appendOrders(world.store, 3);
    const subject = relay();
    subject.start();
    await caughtUp(subject);
    expect(subject.status()).toMatchObject({ relayed: 3, unroutable: 3 });
    expect(
      await counterValue(world.metrics, 'bus_unroutable_total', { routing_key: 'order.placed' }),
    ).toBe(3);
    expect(await depth(world, queue)).toBe(0);
  });

  test('when the broker cannot be reached, then events are still stored, readiness reports the lag, and the relay catches up once it is back', async () => {
    const proxy = await TcpProxy.forUrl(testServers.rabbitmqUrl, 5672).start();
    try {
      await world.connect(proxy.url(world.vhost.url));
      const queue = await boundQueue();
      const subject = relay();
      subject.start();
      const before = await appendOrders(world.store, 3);
      await caughtUp(subject);

      proxy.cut();
      const during = await appendOrders(world.store, 5);
      const readiness = relayReadiness(subject, 4);
      await eventually(
        'readiness to report the lag',
        async () => !(await runReadiness([readiness])).ready,
      );
      const checkpoint = await world.checkpoints.load('relay');
      expect(comparePositions(checkpoint!, (await world.store.headPosition())!)).toBe(-1);

      proxy.restore();
      await caughtUp(subject);
      expect((await runReadiness([readiness])).ready).toBe(true);
      const ids = (await drain(world, queue)).map((m) => m.properties.messageId as string);
      expect(new Set(ids)).toEqual(new Set([...before, ...during]));
    } finally {
      await proxy.stop();
    }
  });

  test('when two relays run against one store, then one publishes at a time, and the other takes over when it stops', async () => {
    await world.connect();
    const queue = await boundQueue();
    const a = relay();
    const b = relay();
    a.start();
    b.start();
    await eventually('a leader', () => a.isLeader || b.isLeader);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];
    const first = await appendOrders(world.store, 5);
    await caughtUp(leader);
    expect(follower.isLeader).toBe(false);
    expect(follower.status().relayed).toBe(0);

    await leader.stop();
    const second = await appendOrders(world.store, 5);
    await eventually('the follower leading', () => follower.isLeader);
    await caughtUp(follower);
    const ids = (await drain(world, queue)).map((m) => m.properties.messageId as string);
    expect(new Set(ids)).toEqual(new Set([...first, ...second]));
    // the follower started from the leader's checkpoint, not from the beginning
    expect(follower.status().relayed).toBe(5);
  });

  test('when stored events are republished to one queue, then they arrive there with their original message ids and routing, and no other queue sees them', async () => {
    const broker = await world.connect();
    const target = await boundQueue();
    const other = await boundQueue();
    await appendOrder(world.store);
    const events = await world.store.readAll();
    const publisher = testPublisher(broker);
    try {
      const report = await publisher.publish(events, { queue: target });
      expect(report).toEqual({ confirmed: 1, unroutable: [] });
      const [message] = await drain(world, target);
      expect(message!.properties.messageId).toBe(events[0]!.id);
      expect(message!.properties.headers).toMatchObject({
        [busHeaders.originalExchange]: TEST_EXCHANGE,
        [busHeaders.originalRoutingKey]: 'order.placed',
      });
      expect(await depth(world, other)).toBe(0);

      const missing = await republishEvents({
        broker,
        exchange: TEST_EXCHANGE,
        source: TEST_SOURCE,
        logger: world.logger,
        events,
        queue: 'no-such-queue',
      });
      expect(missing).toEqual({ confirmed: 1, unroutable: [events[0]!.id] });
    } finally {
      await publisher.stop();
    }
  });

  test('when the relay runs, then /metrics shows what it published and its lag, and /readyz its state', async () => {
    await world.connect();
    await boundQueue();
    await appendOrders(world.store, 2);
    const subject = relay();
    subject.start();
    await caughtUp(subject);
    const text = await world.metrics.text();
    expect(text).toMatch(/bus_published_total\{exchange="shop\.events",service="test"\} 2/);
    expect(text).toMatch(/bus_confirmed_total\{exchange="shop\.events",service="test"\} 2/);
    expect(text).toMatch(/relay_leader\{service="test"\} 1/);
    expect(text).toMatch(/relay_lag_events\{service="test"\} 0/);
    const { ready, body } = await runReadiness([relayReadiness(subject)]);
    expect(ready).toBe(true);
    expect(body.checks.relay?.details).toMatchObject({ leader: true, behind: 0, relayed: 2 });
  });
});

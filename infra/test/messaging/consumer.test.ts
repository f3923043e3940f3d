import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { busHeaders, parkingQueueName, retryQueueName } from '@meetmatt/contracts';
import {
  type BrokerConnection,
  type ConsumedEvent,
  Consumer,
  RejectMessageError,
  appendToNewStream,
  consumersReadiness,
  requestContext,
  runReadiness,
} from '@meetmatt/infra';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  catalog,
  cloudEvent,
  counterValue,
  createWorld,
  depth,
  drain,
  effectCounts,
  inboxConsumer,
  publishRaw,
  testEvents,
} from '../support/messaging';
import { eventually } from '@meetmatt/infra/testing';

const run = promisify(execFile);

describe('consumers', () => {
  let world: MessagingWorld;
  let broker: BrokerConnection;
  const consumers: Consumer<typeof testEvents>[] = [];

  beforeAll(async () => {
    world = await createWorld('consumer');
    broker = await world.connect();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await world?.close();
  });

  async function started(consumer: Consumer<typeof testEvents>) {
    consumers.push(consumer);
    consumer.start();
    await consumer.whenConsuming();
    return consumer;
  }

  const freshQueue = () => `shop-test.${randomUUID().slice(0, 8)}`;

  test('when a consumer starts, then its quorum queue is bound to its event types, with a quorum retry queue per delay and a parking queue', async () => {
    const queue = freshQueue();
    await started(inboxConsumer(world, broker, queue, { retryDelaysMs: [50, 100] }));
    const { stdout } = await run('rabbitmqctl', [
      'list_queues',
      '-p',
      world.vhost.name,
      'name',
      'type',
      'arguments',
      '--formatter',
      'json',
    ]);
    const listed = (JSON.parse(stdout) as { name: string; type: string; arguments: unknown }[])
      .filter((q) => q.name.startsWith(queue))
      .map((q) => [q.name, q.type]);
    expect(listed.sort()).toEqual(
      [
        [queue, 'quorum'],
        [retryQueueName(queue, 50), 'quorum'],
        [retryQueueName(queue, 100), 'quorum'],
        [parkingQueueName(queue), 'quorum'],
      ].sort(),
    );
    const bindings = await run('rabbitmqctl', [
      'list_bindings',
      '-p',
      world.vhost.name,
      'source_name',
      'destination_name',
      'routing_key',
      '--formatter',
      'json',
    ]);
    const bound = (
      JSON.parse(bindings.stdout) as {
        source_name: string;
        destination_name: string;
        routing_key: string;
      }[]
    )
      .filter((b) => b.source_name === TEST_EXCHANGE && b.destination_name === queue)
      .map((b) => b.routing_key);
    expect(bound.sort()).toEqual(['order.placed', 'order.shipped']);
  });

  test('when a malformed message arrives among valid ones, then it is parked at once with the reason in its headers while the others are handled', async () => {
    const queue = freshQueue();
    const seen: string[] = [];
    await started(inboxConsumer(world, broker, queue, { before: (e) => void seen.push(e.id) }));
    const valid = [cloudEvent(), cloudEvent(), cloudEvent()];
    const poison = [
      { body: Buffer.from('{not json'), messageId: randomUUID(), why: 'body is not JSON' },
      { body: cloudEvent({ specversion: '0.3' }), why: 'not a CloudEvent: specversion' },
      {
        body: cloudEvent({ data: { orderId: 'x', amount: -1 } }),
        why: 'does not match its schema',
      },
      { body: cloudEvent({ type: 'order.cancelled' }), why: 'no handler for event type' },
    ];
    await publishRaw(world, [
      { body: valid[0]! },
      ...poison.slice(0, 2),
      { body: valid[1]! },
      ...poison.slice(2),
      { body: valid[2]! },
    ]);

    await eventually('the valid messages handled', async () => {
      const effects = await effectCounts(world);
      return valid.every((v) => effects.has(v.id as string));
    });
    const effects = await effectCounts(world);
    for (const v of valid) expect(effects.get(v.id as string)).toBe(1);
    expect(seen.sort()).toEqual(valid.map((v) => v.id as string).sort());

    await eventually(
      'the poison parked',
      async () => (await depth(world, parkingQueueName(queue))) === 4,
    );
    const parked = await drain(world, parkingQueueName(queue));
    parked.forEach((message, i) => {
      const headers = message.properties.headers ?? {};
      expect(headers[busHeaders.parkedReason]).toBe('malformed');
      expect(String(headers[busHeaders.error])).toContain(poison[i]!.why);
      expect(headers[busHeaders.attempts]).toBe(0);
      expect(headers[busHeaders.originalExchange]).toBe(TEST_EXCHANGE);
      expect(headers[busHeaders.originalRoutingKey]).toBe('order.placed');
      expect(headers[busHeaders.parkedFrom]).toBe(queue);
    });
    expect(
      await counterValue(world.metrics, 'bus_parked_total', { queue, reason: 'malformed' }),
    ).toBe(4);
    expect(
      await counterValue(world.metrics, 'bus_consumed_total', { queue, outcome: 'handled' }),
    ).toBe(3);
  });

  test('when a handler fails twice then succeeds, then the message is handled on the third attempt, after each retry delay', async () => {
    const queue = freshQueue();
    const attempts: { attempts: number; at: number }[] = [];
    await started(
      inboxConsumer(world, broker, queue, {
        retryDelaysMs: [150, 300, 600],
        before: (event) => {
          attempts.push({ attempts: event.attempts, at: Date.now() });
          if (attempts.length <= 2) throw new Error(`transient failure ${attempts.length}`);
        },
      }),
    );
    const event = cloudEvent();
    await publishRaw(world, [{ body: event }]);

    await eventually(
      'the third attempt to succeed',
      async () => (await effectCounts(world)).get(event.id as string) === 1,
    );
    expect(attempts.map((a) => a.attempts)).toEqual([0, 1, 2]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(140);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(290);
    expect(await counterValue(world.metrics, 'bus_retried_total', { queue })).toBe(2);
    expect(await depth(world, parkingQueueName(queue))).toBe(0);
  });

  test('when a handler keeps failing, then after the last retry the message is parked with the error, the attempt count and the original exchange and routing key', async () => {
    const queue = freshQueue();
    let calls = 0;
    await started(
      inboxConsumer(world, broker, queue, {
        retryDelaysMs: [30, 60],
        before: () => {
          calls += 1;
          throw new Error(`downstream refused (call ${calls})`);
        },
      }),
    );
    const event = cloudEvent({
      type: 'order.shipped',
      dataschemaversion: 2,
      data: { orderId: 'o', carrier: 'ups' },
    });
    await publishRaw(world, [{ body: event, routingKey: 'order.shipped' }]);

    await eventually(
      'the message parked',
      async () => (await depth(world, parkingQueueName(queue))) === 1,
    );
    expect(calls).toBe(3);
    const [parked] = await drain(world, parkingQueueName(queue));
    const headers = parked!.properties.headers ?? {};
    expect(headers[busHeaders.parkedReason]).toBe('exhausted');
    expect(headers[busHeaders.attempts]).toBe(3);
    expect(headers[busHeaders.error]).toBe('downstream refused (call 3)');
    expect(headers[busHeaders.originalExchange]).toBe(TEST_EXCHANGE);
    expect(headers[busHeaders.originalRoutingKey]).toBe('order.shipped');
    expect(headers['x-death']).toBeUndefined();
    expect(parked!.properties.messageId).toBe(event.id);
    expect(JSON.parse(parked!.content.toString())).toEqual(event);
    expect(await depth(world, retryQueueName(queue, 30))).toBe(0);
    expect(await depth(world, retryQueueName(queue, 60))).toBe(0);
  });

  test('when a handler rejects a message, then it is parked without retries', async () => {
    const queue = freshQueue();
    let calls = 0;
    await started(
      inboxConsumer(world, broker, queue, {
        before: () => {
          calls += 1;
          throw new RejectMessageError('order belongs to nobody');
        },
      }),
    );
    await publishRaw(world, [{ body: cloudEvent() }]);
    await eventually(
      'the message parked',
      async () => (await depth(world, parkingQueueName(queue))) === 1,
    );
    const [parked] = await drain(world, parkingQueueName(queue));
    expect(parked!.properties.headers?.[busHeaders.parkedReason]).toBe('rejected');
    expect(parked!.properties.headers?.[busHeaders.attempts]).toBe(1);
    expect(calls).toBe(1);
  });

  test('when the same message is delivered twice, then the inbox absorbs the second', async () => {
    const queue = freshQueue();
    await started(inboxConsumer(world, broker, queue));
    const event = cloudEvent();
    await publishRaw(world, [{ body: event }, { body: event }]);
    await eventually('both deliveries consumed', async () => {
      const handled = await counterValue(world.metrics, 'bus_consumed_total', { queue });
      return handled === 2;
    });
    expect((await effectCounts(world)).get(event.id as string)).toBe(1);
    expect(
      await counterValue(world.metrics, 'bus_consumed_total', { queue, outcome: 'duplicate' }),
    ).toBe(1);
  });

  test('when a message was written under an older schema version, then the handler receives it upcast, inside its correlation context', async () => {
    const queue = freshQueue();
    const received: {
      event: ConsumedEvent;
      correlationId: string | undefined;
      causationId: string | undefined;
    }[] = [];
    await started(
      inboxConsumer(world, broker, queue, {
        before: (event) =>
          void received.push({
            event,
            correlationId: requestContext.get()?.correlationId,
            causationId: requestContext.get()?.causationId,
          }),
      }),
    );
    const event = cloudEvent({
      type: 'order.shipped',
      dataschemaversion: 1,
      userid: 'user-7',
      data: { orderId: 'o-1' },
    });
    await publishRaw(world, [{ body: event, routingKey: 'order.shipped' }]);
    await eventually('the event handled', () => received.length === 1);
    const [{ event: got, correlationId, causationId }] = received as [(typeof received)[number]];
    expect(got.type).toBe('order.shipped');
    expect(got.data).toEqual({ orderId: 'o-1', carrier: 'unknown' });
    expect(got).toMatchObject({
      id: event.id,
      source: event.source,
      subject: event.subject,
      correlationId: event.correlationid,
      causationId: event.causationid,
      userId: 'user-7',
      attempts: 0,
    });
    expect(correlationId).toBe(event.correlationid);
    expect(causationId).toBe(event.id);
  });

  test('when a handler appends to a deterministic stream, then a second delivery ends in a harmless conflict and is acked', async () => {
    const queue = freshQueue();
    const orderId = randomUUID();
    const consumer = new Consumer({
      broker,
      logger: world.logger,
      metrics: world.metrics,
      queue,
      exchange: TEST_EXCHANGE,
      events: testEvents,
      handle: async (event) => {
        if (event.type !== 'order.placed') return;
        return appendToNewStream(world.store, `invoice-${event.data.orderId}`, [
          catalog.toNew(
            { type: 'order.placed', data: event.data },
            { correlationId: event.correlationId, causationId: event.id },
          ),
        ]);
      },
    });
    await started(consumer);
    // two different messages about the same order: the stream id, not the message id, decides
    await publishRaw(world, [
      { body: cloudEvent({ data: { orderId, amount: 3 } }) },
      { body: cloudEvent({ data: { orderId, amount: 3 } }) },
    ]);
    await eventually(
      'both consumed',
      async () => (await counterValue(world.metrics, 'bus_consumed_total', { queue })) === 2,
    );
    expect(await world.store.readStream(`invoice-${orderId}`)).toHaveLength(1);
    expect(
      await counterValue(world.metrics, 'bus_consumed_total', { queue, outcome: 'duplicate' }),
    ).toBe(1);
    expect(await depth(world, parkingQueueName(queue))).toBe(0);
  });

  test('when its queue is deleted under it, then the consumer declares it again and goes on consuming; readiness follows', async () => {
    const queue = freshQueue();
    const consumer = await started(inboxConsumer(world, broker, queue));
    const readiness = consumersReadiness([consumer]);
    expect((await runReadiness([readiness])).ready).toBe(true);
    const opensBefore = (consumer as unknown as { channel: { opens: number } }).channel.opens;
    const model = await world.raw();
    const channel = await model.createChannel();
    await channel.deleteQueue(queue);
    await channel.close();
    await eventually('the consumer back', () => {
      const opens = (consumer as unknown as { channel: { opens: number } }).channel.opens;
      return opens > opensBefore && consumer.consuming;
    });
    const event = cloudEvent();
    await publishRaw(world, [{ body: event }]);
    await eventually(
      'the event handled',
      async () => (await effectCounts(world)).get(event.id as string) === 1,
    );
    expect((await runReadiness([readiness])).ready).toBe(true);
    await consumer.stop();
    const after = await runReadiness([readiness]);
    expect(after.ready).toBe(false);
    expect(after.body.reason).toContain(`${queue} not consuming`);
  });
});

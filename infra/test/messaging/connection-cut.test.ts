import { Relay } from '@meetmatt/infra';
import { TcpProxy, testServers, eventually } from '@meetmatt/infra/testing';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  appendOrder,
  counterValue,
  createWorld,
  effectCounts,
  inboxConsumer,
} from '../support/messaging';

const EVENTS = 300;

describe('a cut connection', () => {
  let world: MessagingWorld;
  let proxy: TcpProxy;

  beforeAll(async () => {
    world = await createWorld('cut');
    proxy = await TcpProxy.forUrl(testServers.rabbitmqUrl, 5672).start();
  });
  afterAll(async () => {
    await world?.close();
    await proxy?.stop();
  });

  test('when the connection between a service and the broker is cut in the middle of a stream, then the relay and the consumer come back and every event is handled exactly once', async () => {
    // One connection for both, as in a service.
    const broker = await world.connect(proxy.url(world.vhost.url));
    const queue = 'shop-test.cut';
    const consumer = inboxConsumer(world, broker, queue);
    consumer.start();
    await consumer.whenConsuming();
    const relay = new Relay({
      service: TEST_SOURCE,
      exchange: TEST_EXCHANGE,
      eventStore: world.store,
      checkpoints: world.checkpoints,
      broker,
      databaseUrl: world.db.url,
      logger: world.logger,
      metrics: world.metrics,
      batchSize: 20,
    });
    relay.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < EVENTS; i++) {
        if (i === EVENTS / 3) {
          proxy.cut();
          await eventually('the service to notice', () => broker.state !== 'connected');
          expect(consumer.consuming).toBe(false);
        }
        if (i === (2 * EVENTS) / 3) proxy.restore();
        ids.push(await appendOrder(world.store));
      }
      await eventually(
        'every event handled',
        async () => (await effectCounts(world)).size === EVENTS,
        30_000,
      );
      const effects = await effectCounts(world);
      expect(ids.filter((id) => effects.get(id) !== 1)).toEqual([]);
      expect(broker.reconnects).toBeGreaterThanOrEqual(1);
      expect(consumer.consuming).toBe(true);
      const consumed = await counterValue(world.metrics, 'bus_consumed_total', { queue });
      expect(consumed).toBeGreaterThanOrEqual(EVENTS);
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  });
});

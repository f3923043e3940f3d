import { randomUUID } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import express from 'express';
import {
  type EventStore,
  Metrics,
  PostgresEventStore,
  Relay,
  WrongExpectedRevisionError,
  operationOf,
  outcomeOfStatus,
  providerCallMetrics,
  readinessHandler,
  registerBrokerMetrics,
  registerRelayMetrics,
  withAppendMetrics,
} from '@meetmatt/infra';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  appendOrder,
  appendOrders,
  catalog,
  counterValue,
  createWorld,
  inboxConsumer,
  quietLogger,
} from '../support/messaging';
import { eventually } from '@meetmatt/infra/testing';

function bare(): Metrics {
  return new Metrics('test', { defaultMetrics: false });
}

/** The sample of `name` carrying these labels (in any order), as /metrics shows it. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const line = text.split('\n').find((l) => {
    const match = /^([a-z_]+)(\{.*\})? (\S+)$/.exec(l);
    if (!match || match[1] !== name) return false;
    return Object.entries(labels).every(([k, v]) => match[2]?.includes(`${k}="${v}"`));
  });
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics without a database', () => {
  test('when a service exports its metrics, then build_info names its version, commit and Node', async () => {
    const text = await new Metrics('test', {
      defaultMetrics: false,
      build: { commit: 'abc1234' },
    }).text();
    expect(text).toContain('# TYPE build_info gauge');
    expect(text).toContain(
      `build_info{version="0.1.0",commit="abc1234",node="${process.versions.node}",service="test"} 1`,
    );
  });

  test('when the broker reconnects, then broker_reconnects_total is a counter that follows the total', async () => {
    const metrics = bare();
    const broker = { state: 'connected', reconnects: 0 };
    registerBrokerMetrics(metrics, broker);
    expect(await metrics.text()).toContain('# TYPE broker_reconnects_total counter');
    broker.reconnects = 3;
    expect(sample(await metrics.text(), 'broker_reconnects_total')).toBe(3);
    broker.reconnects = 4;
    broker.state = 'reconnecting';
    const text = await metrics.text();
    expect(sample(text, 'broker_reconnects_total')).toBe(4);
    expect(sample(text, 'broker_connected')).toBe(0);
  });

  test('when provider calls end, then one histogram counts them by provider, operation and outcome', async () => {
    const metrics = bare();
    const calls = providerCallMetrics(metrics, 'nowpayments');
    calls.observe(operationOf('GET', '/v1/payment/5524759814'), outcomeOfStatus(200), 0.2);
    calls.observe(operationOf('GET', '/v1/payment/4411'), outcomeOfStatus(503), 1.5);
    calls.observe(operationOf('POST', '/v1/payment'), outcomeOfStatus(400), 0.1);
    const text = await metrics.text();
    expect(text).toContain('# TYPE provider_request_duration_seconds histogram');
    const count = (operation: string, outcome: string) =>
      sample(text, 'provider_request_duration_seconds_count', {
        provider: 'nowpayments',
        operation,
        outcome,
      });
    expect(count('GET /v1/payment/:id', 'ok')).toBe(1);
    expect(count('GET /v1/payment/:id', 'server_error')).toBe(1);
    expect(count('POST /v1/payment', 'client_error')).toBe(1);
    expect(outcomeOfStatus(429)).toBe('server_error');
    expect(operationOf('GET', '/v1/sessions/devin-7f3e2a9c?x=1')).toBe('GET /v1/sessions/:id');
  });

  test('when the events come from EventStoreDB, then the relay lag is in bytes and no relay_lag_events is exported', async () => {
    const metrics = bare();
    const createdAt = new Date(Date.now() - 5_000);
    registerRelayMetrics(
      metrics,
      {
        isLeader: true,
        lag: () =>
          Promise.resolve({
            position: undefined,
            head: undefined,
            behind: 4096,
            oldestOpenTransactionMs: 0,
            caughtUp: false,
          }),
      },
      {
        kind: 'eventstoredb',
        readAll: () =>
          Promise.resolve([{ createdAt } as Awaited<ReturnType<EventStore['readAll']>>[number]]),
      },
    );
    const text = await metrics.text();
    expect(sample(text, 'relay_lag_bytes')).toBe(4096);
    expect(text).not.toContain('relay_lag_events');
    expect(sample(text, 'relay_lag_seconds')).toBeGreaterThanOrEqual(5);
  });
});

test('when /readyz flips between ready and not, then readiness_changes_total counts each flip and readiness_ready shows the last answer', async () => {
  const metrics = bare();
  let healthy = true;
  const app = express();
  const check = {
    name: 'toggle',
    check: async () => {
      if (!healthy) throw new Error('down');
    },
  };
  app.get('/readyz', readinessHandler([check], quietLogger(), metrics));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  try {
    expect(sample(await metrics.text(), 'readiness_changes_total')).toBe(0);
    const statuses: number[] = [];
    for (const state of [true, false, false, true, false]) {
      healthy = state;
      statuses.push((await fetch(url)).status);
    }
    expect(statuses).toEqual([200, 503, 503, 200, 503]);
    const text = await metrics.text();
    expect(sample(text, 'readiness_changes_total')).toBe(3);
    expect(sample(text, 'readiness_ready')).toBe(0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('metrics against PostgreSQL', () => {
  let world: MessagingWorld;
  beforeEach(async () => {
    world = await createWorld('metrics');
  });
  afterEach(() => world.close());

  test('when the relay is behind, then relay_lag_events counts the events and relay_lag_seconds is the age of the oldest', async () => {
    const metrics = bare();
    await appendOrder(world.store);
    const [relayed] = await world.store.readAll({ maxCount: 1 });
    await appendOrder(world.store);
    await appendOrder(world.store);
    const [, waiting] = await world.store.readAll({ maxCount: 2 });
    registerRelayMetrics(
      metrics,
      {
        isLeader: true,
        // The relay's own answer: the checkpoint after the first event, two behind it.
        lag: async () => ({
          position: relayed!.position,
          head: undefined,
          behind: await world.store.countAfter(relayed!.position),
          oldestOpenTransactionMs: 0,
          caughtUp: true,
        }),
      },
      world.store,
    );
    const before = Date.now();
    const text = await metrics.text();
    const after = Date.now();
    expect(sample(text, 'relay_lag_events')).toBe(2);
    expect(text).not.toContain('relay_lag_bytes');
    const seconds = sample(text, 'relay_lag_seconds')!;
    expect(seconds).toBeGreaterThanOrEqual((before - waiting!.createdAt.getTime()) / 1000);
    expect(seconds).toBeLessThanOrEqual((after - waiting!.createdAt.getTime()) / 1000);
    // The gauges read at most once a second; a new registry reads afresh.
    const follower = bare();
    registerRelayMetrics(
      follower,
      { isLeader: false, lag: () => Promise.reject(new Error('no')) },
      world.store,
    );
    const followerText = await follower.text();
    expect(sample(followerText, 'relay_lag_events')).toBe(0);
    expect(sample(followerText, 'relay_lag_seconds')).toBe(0);
  });

  test('when events are appended, then appends are timed by outcome and events counted by type, the store otherwise unchanged', async () => {
    const metrics = bare();
    const store = withAppendMetrics(world.store, metrics);
    expect(store).toBeInstanceOf(PostgresEventStore);
    expect(store.kind).toBe('postgres');
    const stream = `order-${randomUUID()}`;
    const events = [1, 2].map((amount) =>
      catalog.toNew(
        { type: 'order.placed', data: { orderId: stream, amount } },
        { correlationId: randomUUID(), causationId: randomUUID() },
      ),
    );
    await store.appendToStream(stream, events, { expectedRevision: 'no_stream' });
    await expect(
      store.appendToStream(stream, events.slice(0, 1), { expectedRevision: 'no_stream' }),
    ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect(await store.readStream(stream)).toHaveLength(2);
    expect(
      await counterValue(metrics, 'eventstore_appended_events_total', { type: 'order.placed' }),
    ).toBe(2);
    const text = await metrics.text();
    expect(sample(text, 'eventstore_append_duration_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(sample(text, 'eventstore_append_duration_seconds_count', { outcome: 'conflict' })).toBe(
      1,
    );

    // A spy set on the measured store wraps the measured append (as the service tests' spies
    // do) instead of being called by it again and again.
    const measured = store.appendToStream;
    const spy = jest
      .spyOn(store, 'appendToStream')
      .mockImplementationOnce((id, list, options) => measured.call(store, id, list, options));
    try {
      await store.appendToStream(`order-${randomUUID()}`, events.slice(0, 1), {
        expectedRevision: 'no_stream',
      });
      expect(spy).toHaveBeenCalledTimes(1);
      const after = await metrics.text();
      expect(sample(after, 'eventstore_append_duration_seconds_count', { outcome: 'ok' })).toBe(2);
    } finally {
      jest.restoreAllMocks();
    }
  });

  test('when a handler is stuck, then consumer_backlog_messages counts what waits and consumer_backlog_seconds grows; both 0 once drained', async () => {
    const metrics = bare();
    const broker = await world.connect();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let taken = 0;
    const queue = `backlog-${randomUUID()}`;
    const consumer = inboxConsumer(world, broker, queue, {
      metrics,
      prefetch: 1,
      before: async () => {
        taken += 1;
        await gate;
      },
    });
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
      leaderRetryMs: 100,
    });
    try {
      await appendOrders(world.store, 3);
      relay.start();
      const backlog = async () => {
        const text = await metrics.text();
        return {
          messages: sample(text, 'consumer_backlog_messages', { queue }),
          seconds: sample(text, 'consumer_backlog_seconds', { queue }),
        };
      };
      // The gauges read the queue at most once a second: polling sees the next read.
      let stuck = await backlog();
      await eventually('two messages waiting behind the stuck one', async () => {
        stuck = await backlog();
        return taken === 1 && stuck.messages === 2;
      });
      expect(stuck.seconds).toBeGreaterThan(0);
      expect(stuck.seconds).toBeLessThan(60);
      release();
      await eventually('the queue drained', async () => {
        const now = await backlog();
        return taken === 3 && now.messages === 0 && now.seconds === 0;
      });
    } finally {
      release();
      await relay.stop();
      await consumer.stop();
    }
  });

  test('when a message is parked, then consumer_parked_messages counts it in the parking queue', async () => {
    const metrics = bare();
    const broker = await world.connect();
    const queue = `parked-${randomUUID()}`;
    const consumer = inboxConsumer(world, broker, queue, {
      metrics,
      before: () => {
        throw new Error('always fails');
      },
    });
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
      leaderRetryMs: 100,
    });
    try {
      await appendOrder(world.store);
      relay.start();
      await eventually('the message parked and counted', async () => {
        const text = await metrics.text();
        return sample(text, 'consumer_parked_messages', { queue }) === 1;
      });
      expect(await counterValue(metrics, 'bus_parked_total', { queue })).toBe(1);
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { SpanKind, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { type ConsumedEvent, type Consumer, Relay } from '@meetmatt/infra';
import { captureLogger, eventually } from '@meetmatt/infra/testing';
import { activeTraceFields, inSpan, traceIdOf } from '@meetmatt/infra/tracing';
import { setTracingEnabled } from '../../src/tracing/propagation';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  catalog,
  createWorld,
  inboxConsumer,
  type testEvents,
} from '../support/messaging';

/**
 * Trace context through the event store and RabbitMQ, with real PostgreSQL and RabbitMQ and the
 * spans kept in memory: what a request appends carries its trace, the relay publishes it in the
 * CloudEvent, and the consumer's handler runs in a child span of the request's.
 */
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

describe('trace context across the event store and the bus', () => {
  let world: MessagingWorld;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    provider.register();
    world = await createWorld('tracing');
  });
  beforeEach(() => {
    setTracingEnabled(() => provider.forceFlush());
    exporter.reset();
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });
  afterAll(async () => {
    setTracingEnabled(undefined);
    await world?.close();
    await provider.shutdown();
  });

  const newOrder = () => ({
    type: 'order.placed' as const,
    data: { orderId: randomUUID(), amount: 10 },
  });
  const causal = () => ({ correlationId: randomUUID(), causationId: randomUUID() });

  test('when a request appends an event, then the relay publishes it with the request’s trace and the handler runs in a child span of it', async () => {
    const broker = await world.connect();
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
    const queue = `tracing-test.${randomUUID().slice(0, 8)}`;
    const handled: { event: ConsumedEvent; activeTraceId?: string }[] = [];
    const consumer: Consumer<typeof testEvents> = inboxConsumer(world, broker, queue, {
      before: (event) => {
        handled.push({ event, activeTraceId: trace.getActiveSpan()?.spanContext().traceId });
      },
    });
    stops.push(
      () => relay.stop(),
      () => consumer.stop(),
    );
    consumer.start();
    await consumer.whenConsuming();
    relay.start();

    const order = newOrder();
    const request = await inSpan('POST /orders', { kind: SpanKind.SERVER }, async () => {
      const event = catalog.toNew(order, causal());
      await world.store.appendToStream(`order-${order.data.orderId}`, [event], {
        expectedRevision: 'no_stream',
      });
      return { span: trace.getActiveSpan()!.spanContext(), metadata: event.metadata };
    });

    expect(traceIdOf(request.metadata)).toBe(request.span.traceId);
    const [stored] = await world.store.readStream(`order-${order.data.orderId}`);
    expect(stored?.metadata.traceparent).toBe(request.metadata.traceparent);

    await eventually('the handler', () =>
      handled.some((h) => h.event.subject === `order-${order.data.orderId}`),
    );
    const { event, activeTraceId } = handled.find(
      (h) => h.event.subject === `order-${order.data.orderId}`,
    )!;
    expect(event.traceparent).toBe(request.metadata.traceparent);
    expect(activeTraceId).toBe(request.span.traceId);
    await eventually('the consumer span', () =>
      exporter.getFinishedSpans().some((s) => s.name === 'process order.placed'),
    );
    const processed = exporter.getFinishedSpans().find((s) => s.name === 'process order.placed')!;
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(processed.spanContext().traceId).toBe(request.span.traceId);
    expect(processed.parentSpanContext?.spanId).toBe(request.span.spanId);
    expect(processed.attributes['messaging.destination.name']).toBe(queue);
  });

  test('when a log line is written inside a span, then it carries the trace and span ids, and outside one it does not', async () => {
    const { logger, entries } = captureLogger();
    const ids = await inSpan('work', {}, async () => {
      logger.info('inside');
      return trace.getActiveSpan()!.spanContext();
    });
    logger.info('outside');
    expect(entries.map((e) => [e.message, e.trace_id, e.span_id])).toEqual([
      ['inside', ids.traceId, ids.spanId],
      ['outside', undefined, undefined],
    ]);
  });

  test('when tracing is off, then nothing is stamped, logged or recorded', async () => {
    setTracingEnabled(undefined);
    const { logger, entries } = captureLogger();
    const metadata = await inSpan('work', {}, async () => {
      logger.info('inside');
      expect(activeTraceFields()).toEqual({});
      return catalog.toNew(newOrder(), causal()).metadata;
    });
    expect(metadata.traceparent).toBeUndefined();
    expect(entries[0]?.trace_id).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test('when a span fails, then it ends marked as an error and the error goes on', async () => {
    await expect(
      inSpan('failing', {}, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const [span] = exporter.getFinishedSpans();
    expect([span?.name, span?.status.code, span?.status.message]).toEqual(['failing', 2, 'boom']);
  });
});

import { type ConsumeMessage } from 'amqplib';
import { busHeaders, parkingQueueName, retryQueueName } from '@meetmatt/contracts';
import { failureCopy, planHandlerFailure, planPark } from '../../src/messaging/failure-routing';

function delivery(
  headers: Record<string, unknown> = {},
  fields: Partial<ConsumeMessage['fields']> = {},
) {
  return {
    content: Buffer.from('{"id":"e-1"}'),
    fields: {
      deliveryTag: 7,
      redelivered: false,
      exchange: 'payment.events',
      routingKey: 'payment.confirmed',
      consumerTag: 'c',
      ...fields,
    },
    properties: {
      messageId: 'e-1',
      contentType: 'application/cloudevents+json',
      headers,
      deliveryMode: 2,
      expiration: '5000',
      userId: 'guest',
      type: 'payment.confirmed',
    },
  } as unknown as ConsumeMessage;
}

describe('routing failed messages', () => {
  const queue = 'brain-service.payment-events';

  test('when a handler fails, then each failure waits the next delay, and after the last delay the message is parked', () => {
    const delays = [1_000, 10_000];
    expect(planHandlerFailure(queue, 0, delays)).toEqual({
      kind: 'retry',
      queue: retryQueueName(queue, 1_000),
      delayMs: 1_000,
      attempts: 1,
    });
    expect(planHandlerFailure(queue, 1, delays)).toMatchObject({
      kind: 'retry',
      delayMs: 10_000,
      attempts: 2,
    });
    expect(planHandlerFailure(queue, 2, delays)).toEqual({
      kind: 'park',
      queue: parkingQueueName(queue),
      reason: 'exhausted',
      attempts: 3,
    });
  });

  test('when a first delivery is parked, then the copy keeps its identity and records where it came from, without expiry or user id', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    const copy = failureCopy(delivery(), planPark(queue, 'malformed', 0), queue, 'bad body', now);
    expect(copy.routingKey).toBe(parkingQueueName(queue));
    expect(copy.options).toMatchObject({
      messageId: 'e-1',
      contentType: 'application/cloudevents+json',
      type: 'payment.confirmed',
      persistent: true,
    });
    expect(copy.options).not.toHaveProperty('expiration');
    expect(copy.options).not.toHaveProperty('userId');
    expect(copy.options.headers).toEqual({
      [busHeaders.attempts]: 0,
      [busHeaders.error]: 'bad body',
      [busHeaders.parkedReason]: 'malformed',
      [busHeaders.parkedAt]: now.toISOString(),
      [busHeaders.parkedFrom]: queue,
      [busHeaders.originalExchange]: 'payment.events',
      [busHeaders.originalRoutingKey]: 'payment.confirmed',
    });
  });

  test('when a retried message fails again, then the original exchange and routing key survive and the broker death headers do not', () => {
    const retried = delivery(
      {
        [busHeaders.attempts]: 1,
        [busHeaders.originalExchange]: 'payment.events',
        [busHeaders.originalRoutingKey]: 'payment.confirmed',
        'x-death': [{ count: 1, reason: 'expired' }],
        'x-first-death-reason': 'expired',
      },
      { exchange: '', routingKey: queue },
    );
    const plan = planHandlerFailure(queue, 1, [1_000, 10_000]);
    const copy = failureCopy(retried, plan, queue, 'x'.repeat(5_000), new Date());
    expect(copy.routingKey).toBe(retryQueueName(queue, 10_000));
    expect(copy.options.headers).toMatchObject({
      [busHeaders.attempts]: 2,
      [busHeaders.originalExchange]: 'payment.events',
      [busHeaders.originalRoutingKey]: 'payment.confirmed',
    });
    expect(copy.options.headers).not.toHaveProperty('x-death');
    expect(copy.options.headers).not.toHaveProperty('x-first-death-reason');
    expect(String(copy.options.headers[busHeaders.error])).toHaveLength(2_000);
  });
});

import { type ConsumeMessage, type MessageProperties } from 'amqplib';
import {
  type ParkedReason,
  busHeaders,
  parkingQueueName,
  retryQueueName,
} from '@meetmatt/contracts';
import { type OutgoingMessage } from './cloud-event';

/** Where a failed message goes next. */
export type FailurePlan =
  | { kind: 'retry'; queue: string; delayMs: number; attempts: number }
  | { kind: 'park'; queue: string; reason: ParkedReason; attempts: number };

/**
 * A handler failure: retry after the next delay while delays remain, then park. `attempts` counts
 * the failures including this one, so with four delays the handler runs five times in all.
 */
export function planHandlerFailure(
  queue: string,
  previousAttempts: number,
  retryDelaysMs: readonly number[],
): FailurePlan {
  const attempts = previousAttempts + 1;
  const delayMs = retryDelaysMs[attempts - 1];
  if (delayMs === undefined) {
    return { kind: 'park', queue: parkingQueueName(queue), reason: 'exhausted', attempts };
  }
  return { kind: 'retry', queue: retryQueueName(queue, delayMs), delayMs, attempts };
}

export function planPark(queue: string, reason: ParkedReason, attempts: number): FailurePlan {
  return { kind: 'park', queue: parkingQueueName(queue), reason, attempts };
}

/** Headers the broker adds when it dead-letters; a copy we publish starts without them. */
const BROKER_DEATH_HEADERS = [
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
];

const MAX_ERROR_LENGTH = 2_000;

/**
 * The copy of a failed message published to its retry or parking queue (through the consumer's
 * failure exchange, under the target queue's name): same body and identity, plus the bus's
 * headers. The original exchange and routing key are kept from the first delivery, since a
 * retried message comes back through the failure exchange under the queue's name.
 */
export function failureCopy(
  message: ConsumeMessage,
  plan: FailurePlan,
  consumerQueue: string,
  error: string,
  now: Date,
): OutgoingMessage {
  const headers: Record<string, unknown> = { ...message.properties.headers };
  for (const name of BROKER_DEATH_HEADERS) delete headers[name];
  headers[busHeaders.originalExchange] ??= message.fields.exchange;
  headers[busHeaders.originalRoutingKey] ??= message.fields.routingKey;
  headers[busHeaders.attempts] = plan.attempts;
  headers[busHeaders.error] = error.slice(0, MAX_ERROR_LENGTH);
  if (plan.kind === 'park') {
    headers[busHeaders.parkedReason] = plan.reason;
    headers[busHeaders.parkedAt] = now.toISOString();
    headers[busHeaders.parkedFrom] = consumerQueue;
  }
  const messageId = identityOf(message);
  return {
    routingKey: plan.queue,
    content: message.content,
    options: { ...keptProperties(message.properties), messageId, persistent: true, headers },
  };
}

/** A message without an id (published by hand, say) still needs one to track its confirm. */
function identityOf(message: ConsumeMessage): string {
  const id: unknown = message.properties.messageId;
  return typeof id === 'string' && id ? id : `no-id:${message.fields.deliveryTag}`;
}

/**
 * Properties of a message worth carrying over to a copy (parked, or redriven by an operator).
 * Not `expiration` (the copy must not expire in the parking queue) and not `userId` (the broker
 * checks it against the publishing connection's user).
 */
export function keptProperties(properties: MessageProperties): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of [
    'contentType',
    'contentEncoding',
    'correlationId',
    'timestamp',
    'type',
    'appId',
    'priority',
  ] as const) {
    const value: unknown = properties[key];
    if (value !== undefined && value !== null) kept[key] = value;
  }
  return kept;
}

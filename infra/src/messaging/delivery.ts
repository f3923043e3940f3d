import { type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { type EventCatalog } from '../event-store/event-catalog';
import { type Logger } from '../logging/logger';
import { requestContext } from '../runtime/request-context';
import { SpanKind, consumerParent, inSpan } from '../tracing/propagation';
import { type ConsumedEvent, parseDelivery } from './consumed-event';
import { ReturnTracker, publishConfirmed } from './confirm-publisher';
import { type FailurePlan, failureCopy, planHandlerFailure, planPark } from './failure-routing';
import { type ConsumeOutcome, type MessagingMetrics } from './messaging-metrics';
import { failureExchangeName } from './topology';

/** Thrown by a handler for a message that can never succeed: it is parked without retries. */
export class RejectMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectMessageError';
  }
}

/** What processing a delivery needs from its consumer. */
export interface DeliveryContext {
  queue: string;
  catalog: EventCatalog;
  handle: (event: ConsumedEvent) => Promise<void | 'processed' | 'duplicate'>;
  retryDelaysMs: readonly number[];
  logger: Logger;
  metrics: MessagingMetrics | undefined;
  confirmTimeoutMs: number;
  /** A handler still running after this long is abandoned and the message retried. */
  handlerTimeoutMs?: number;
  returns: WeakMap<ConfirmChannel, ReturnTracker>;
  /** Replaces `channel` (if still current), so its unacknowledged messages are redelivered. */
  resetChannel(reason: string, channel: ConfirmChannel): Promise<void>;
}

/** Parse, handle, then ack; or route the failure. Never throws. */
export async function processDelivery(
  context: DeliveryContext,
  channel: ConfirmChannel,
  message: ConsumeMessage,
): Promise<void> {
  const parsed = parseDelivery(message, context.catalog);
  if (!parsed.ok) {
    context.logger.error('malformed message parked', {
      queue: context.queue,
      messageId: message.properties.messageId as unknown,
      reason: parsed.reason,
    });
    await routeFailure(
      context,
      channel,
      message,
      planPark(context.queue, 'malformed', parsed.attempts),
      parsed.reason,
    );
    return;
  }
  const event = parsed.event;
  const timer = context.metrics?.handleSeconds.startTimer({ queue: context.queue });
  try {
    const result = await requestContext.run(
      {
        correlationId: event.correlationId,
        causationId: event.id,
        ...(event.userId ? { userId: event.userId } : {}),
      },
      () =>
        inSpan(
          `process ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            parent: consumerParent(event),
            attributes: {
              'messaging.system': 'rabbitmq',
              'messaging.destination.name': context.queue,
              'messaging.message.id': event.id,
              'cloudevents.event_type': event.type,
              'cloudevents.event_source': event.source,
            },
          },
          () => withinBudget(context.handle(event), context.handlerTimeoutMs),
        ),
    );
    timer?.();
    const outcome = result === 'duplicate' ? 'duplicate' : 'handled';
    settle(context, channel, message, outcome);
    context.logger.debug('message handled', {
      queue: context.queue,
      messageId: event.id,
      type: event.type,
      correlationId: event.correlationId,
      outcome,
    });
  } catch (error) {
    timer?.();
    await handlerFailed(context, channel, message, event, error);
  }
}

function withinBudget<T>(work: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (!timeoutMs || timeoutMs <= 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`handler did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    // A budget alone must not keep a stopping process alive.
    timer.unref();
  });
  // The abandoned handler's own failure, if it comes later, has nobody to report to.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

async function handlerFailed(
  context: DeliveryContext,
  channel: ConfirmChannel,
  message: ConsumeMessage,
  event: ConsumedEvent,
  error: unknown,
): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  const plan =
    error instanceof RejectMessageError
      ? planPark(context.queue, 'rejected', event.attempts + 1)
      : planHandlerFailure(context.queue, event.attempts, context.retryDelaysMs);
  const fields = {
    queue: context.queue,
    messageId: event.id,
    type: event.type,
    correlationId: event.correlationId,
    attempts: plan.attempts,
    error: reason,
  };
  if (plan.kind === 'retry')
    context.logger.warn('handler failed, retrying later', { ...fields, delayMs: plan.delayMs });
  else context.logger.error('handler failed, message parked', { ...fields, reason: plan.reason });
  await routeFailure(context, channel, message, plan, reason);
}

/**
 * Publishes the retry or parked copy and acks the original only once the copy is confirmed.
 * If the copy cannot be confirmed, the channel is replaced, so the original is redelivered.
 */
async function routeFailure(
  context: DeliveryContext,
  channel: ConfirmChannel,
  message: ConsumeMessage,
  plan: FailurePlan,
  error: string,
): Promise<void> {
  const copy = failureCopy(message, plan, context.queue, error, new Date());
  const returns = context.returns.get(channel) ?? new ReturnTracker();
  const [outcome] = await publishConfirmed(
    channel,
    returns,
    failureExchangeName(context.queue),
    [copy],
    context.confirmTimeoutMs,
  );
  if (outcome !== 'confirmed') {
    context.logger.warn('could not route a failed message, it will be redelivered', {
      queue: context.queue,
      to: plan.queue,
      outcome,
    });
    await context.resetChannel(`routing to ${plan.queue}: ${outcome}`, channel);
    return;
  }
  if (plan.kind === 'retry') {
    context.metrics?.retried.inc({ queue: context.queue, delay_ms: String(plan.delayMs) });
    settle(context, channel, message, 'retried');
  } else {
    context.metrics?.parked.inc({ queue: context.queue, reason: plan.reason });
    settle(context, channel, message, 'parked');
  }
}

/** Acks on the channel the message came on; if that channel has closed, the broker redelivers. */
function settle(
  context: DeliveryContext,
  channel: ConfirmChannel,
  message: ConsumeMessage,
  outcome: ConsumeOutcome,
): void {
  try {
    channel.ack(message);
    context.metrics?.consumed.inc({ queue: context.queue, outcome });
  } catch {
    context.logger.debug('ack after the channel closed; the message will be redelivered', {
      queue: context.queue,
      messageId: message.properties.messageId as unknown,
    });
  }
}

import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ConfirmChannel } from 'amqplib';
import { busHeaders } from '@meetmatt/contracts';
import { type RecordedEvent } from '../event-store/types';
import { type Logger } from '../logging/logger';
import { type Metrics } from '../metrics/metrics';
import { backoffDelay, sleep } from '../runtime/backoff';
import { abortError } from './abortable';
import { type BrokerConnection } from './broker-connection';
import { type OutgoingMessage, toCloudEvent, toMessage } from './cloud-event';
import {
  PUBLISH_CHUNK,
  type PublishOutcome,
  ReturnTracker,
  publishConfirmed,
} from './confirm-publisher';
import { ManagedChannel } from './managed-channel';
import { type MessagingMetrics, messagingMetrics } from './messaging-metrics';
import { declareExchange } from './topology';

export interface EventPublisherOptions {
  broker: BrokerConnection;
  /** The service's topic exchange, e.g. `payment.events`. */
  exchange: string;
  /** The CloudEvent `source`: the publishing service's name. */
  source: string;
  logger: Logger;
  metrics?: Metrics;
  /** How long to wait for the broker's confirms before giving the channel up. */
  confirmTimeoutMs?: number;
}

export interface PublishOptions {
  /** Stops waiting (the promise rejects) when aborted. */
  signal?: AbortSignal;
  /**
   * Sends to this one queue through the default exchange instead of to the service's exchange,
   * so an operator can replay events to the consumer that needs them without the others seeing
   * them again. The original exchange and routing key travel in headers.
   */
  queue?: string;
  /** Told once every message of the call has been handed to the channel (the hop trace). */
  onHandedOver?: () => void;
}

export interface PublishReport {
  confirmed: number;
  /** Ids of events no queue was bound for (or, with `queue`, the queue did not exist). */
  unroutable: string[];
}

/**
 * Publishes stored events as CloudEvents with publisher confirms, retrying what was not
 * confirmed (across reconnects) until every event is confirmed. At-least-once: an event whose
 * confirm was lost is sent again with the same message id. The relay publishes through this, and
 * so does an operator republishing stored events.
 */
export class EventPublisher {
  private readonly channel: ManagedChannel;
  private readonly returns = new WeakMap<ConfirmChannel, ReturnTracker>();
  private readonly counters: MessagingMetrics | undefined;
  /** Settles when the latest publish has handed all its messages to the channel. */
  private handingOver: Promise<void> = Promise.resolve();

  constructor(private readonly options: EventPublisherOptions) {
    this.counters = options.metrics ? messagingMetrics(options.metrics) : undefined;
    this.channel = new ManagedChannel({
      broker: options.broker,
      logger: options.logger,
      name: `publisher:${options.exchange}`,
      setup: async (channel) => {
        this.returns.set(channel, ReturnTracker.attach(channel));
        await declareExchange(channel, options.exchange);
      },
    });
  }

  /** Whether a channel is open to publish on. */
  get ready(): boolean {
    return this.channel.current !== undefined;
  }

  get lastError(): string | undefined {
    return this.channel.lastError;
  }

  /**
   * Resolves when the broker has confirmed every event; waits through broker outages. Calls
   * made while an earlier one is still handing its messages to the channel wait for it, so
   * batches reach the broker in the order they were published, while their confirms overlap.
   */
  async publish(
    events: readonly RecordedEvent[],
    options: PublishOptions = {},
  ): Promise<PublishReport> {
    const previous = this.handingOver;
    let handedOver!: () => void;
    this.handingOver = new Promise<void>((resolve) => {
      let told = false;
      handedOver = () => {
        resolve();
        if (!told) options.onHandedOver?.();
        told = true;
      };
    });
    try {
      // Encoded while the previous call is still handing its messages over (its writes wait on
      // the socket), so the channel has the next batch ready the moment it may have it.
      const messages: OutgoingMessage[] = [];
      for (const [i, event] of events.entries()) {
        // A long batch is encoded in chunks, so requests are served in between.
        if (i > 0 && i % PUBLISH_CHUNK === 0) await nextTurn();
        messages.push(
          routed(
            toMessage(toCloudEvent(event, this.options.source)),
            this.options.exchange,
            options,
          ),
        );
      }
      await previous;
      const exchange = options.queue === undefined ? this.options.exchange : '';
      const report: PublishReport = { confirmed: 0, unroutable: [] };
      let pending = messages;
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (options.signal?.aborted) throw abortError(options.signal);
        const channel = await this.channel.whenOpen(options.signal);
        const outcomes = await this.send(channel, exchange, pending, handedOver);
        pending = pending.filter((message, i) => {
          const outcome = outcomes[i]!;
          if (outcome === 'returned') report.unroutable.push(message.options.messageId);
          if (outcome !== 'failed') report.confirmed += 1;
          return outcome === 'failed';
        });
        if (pending.length > 0)
          await this.recover(channel, pending.length, attempt, options.signal);
      }
      return report;
    } finally {
      handedOver();
    }
  }

  async stop(): Promise<void> {
    await this.channel.stop();
  }

  private async send(
    channel: ConfirmChannel,
    exchange: string,
    messages: OutgoingMessage[],
    handedOver: () => void,
  ): Promise<PublishOutcome[]> {
    const label = { exchange: this.options.exchange };
    this.counters?.published.inc(label, messages.length);
    const outcomes = await publishConfirmed(
      channel,
      this.returns.get(channel) ?? new ReturnTracker(),
      exchange,
      messages,
      this.options.confirmTimeoutMs ?? 30_000,
      handedOver,
    );
    if (this.counters) this.count(this.counters, label, messages, outcomes);
    return outcomes;
  }

  /** One increment per label set and batch, not per message. */
  private count(
    counters: MessagingMetrics,
    label: { exchange: string },
    messages: OutgoingMessage[],
    outcomes: PublishOutcome[],
  ): void {
    const unroutable = new Map<string, number>();
    let confirmed = 0;
    messages.forEach((message, i) => {
      if (outcomes[i] === 'failed') return;
      confirmed += 1;
      if (outcomes[i] === 'returned')
        unroutable.set(message.routingKey, (unroutable.get(message.routingKey) ?? 0) + 1);
    });
    if (confirmed > 0) counters.confirmed.inc(label, confirmed);
    for (const [routingKey, count] of unroutable)
      counters.unroutable.inc({ ...label, routing_key: routingKey }, count);
  }

  /** A nack, a timeout or a closed channel: start from a fresh channel after a pause. */
  private async recover(
    channel: ConfirmChannel,
    unconfirmed: number,
    attempt: number,
    signal?: AbortSignal,
  ): Promise<void> {
    this.options.logger.warn('events not confirmed, publishing them again', {
      exchange: this.options.exchange,
      unconfirmed,
      attempt,
      error: this.channel.lastError,
    });
    await this.channel.reset('publish not confirmed', channel);
    await sleep(backoffDelay(attempt, 50, 2_000), signal);
  }
}

function routed(
  message: OutgoingMessage,
  exchange: string,
  options: PublishOptions,
): OutgoingMessage {
  if (options.queue === undefined) return message;
  const headers: Record<string, unknown> = {
    [busHeaders.originalExchange]: exchange,
    [busHeaders.originalRoutingKey]: message.routingKey,
  };
  return { ...message, routingKey: options.queue, options: { ...message.options, headers } };
}

/**
 * Publishes stored events again, with their original message ids, on a publisher of its own
 * (the operator CLI's replay): to the service's exchange, or with `queue` to one consumer's queue.
 */
export async function republishEvents(
  options: EventPublisherOptions & PublishOptions & { events: readonly RecordedEvent[] },
): Promise<PublishReport> {
  const { events, signal, queue, ...publisherOptions } = options;
  const publisher = new EventPublisher(publisherOptions);
  try {
    return await publisher.publish(events, {
      ...(signal ? { signal } : {}),
      ...(queue !== undefined ? { queue } : {}),
    });
  } finally {
    await publisher.stop();
  }
}

import { type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { type EventDefinition, type EventUnion, retryDelaysMs } from '@meetmatt/contracts';
import { EventCatalog } from '../event-store/event-catalog';
import { type Logger } from '../logging/logger';
import { type Metrics } from '../metrics/metrics';
import { type BrokerConnection } from './broker-connection';
import { type ConsumedEvent } from './consumed-event';
import { type DeliveryContext, processDelivery } from './delivery';
import { ReturnTracker } from './confirm-publisher';
import { type HopTrace, wallClockMs } from './hop-trace';
import { ManagedChannel } from './managed-channel';
import { messagingMetrics, registerConsumerBacklog } from './messaging-metrics';
import { type ConsumerTopology, consumerTopology, declareConsumerTopology } from './topology';

/**
 * What a handler reports: `processed` (or nothing) when it did the work, `duplicate` when its
 * idempotency guard found the work already done (counted apart in the metrics).
 */
export type HandlerResult = void | 'processed' | 'duplicate';

export type MessageHandler<E extends ConsumedEvent = ConsumedEvent> = (
  event: E,
) => Promise<HandlerResult>;

export interface ConsumerOptions<Defs extends readonly EventDefinition[]> {
  broker: BrokerConnection;
  logger: Logger;
  metrics?: Metrics;
  /** `<service>.<purpose>`, from `queues` in contracts. */
  queue: string;
  /** The exchange the events come from; the queue is bound to each event's type on it. */
  exchange: string;
  /** The events this consumer takes: their types are its bindings, their schemas its parser. */
  events: Defs;
  /**
   * Runs inside the request context of the event (correlation id, causation id = the event id),
   * must be idempotent, and acks by returning. Throwing retries it; throwing
   * `RejectMessageError` parks the message at once.
   */
  handle: MessageHandler<ConsumedEvent<EventUnion<Defs>>>;
  /** Unacknowledged messages the broker hands this consumer at once (and so handlers in parallel). */
  prefetch?: number;
  /** The waits before each retry; after the last the message is parked. */
  retryDelaysMs?: readonly number[];
  /** How long `stop()` waits for handlers in progress before closing the channel. */
  stopTimeoutMs?: number;
  /**
   * How long one handler may run (default 60 s). Past it the message is treated as failed and
   * goes on to its next retry; the abandoned handler may still finish, which idempotency absorbs.
   */
  handlerTimeoutMs?: number;
  /** How long a retry or park copy may wait for its confirm. */
  confirmTimeoutMs?: number;
  /** Records when each message was delivered and when its handler finished (BUS_HOP_TRACE_FILE). */
  hopTrace?: HopTrace;
}

/**
 * One durable queue and its handler. On every (re)connect it declares its topology, sets its
 * prefetch and consumes again; a message is acked only after its handler finished, or after its
 * retry or parked copy has been confirmed, so a crash at any point means a redelivery, never a
 * loss.
 */
export class Consumer<Defs extends readonly EventDefinition[] = readonly EventDefinition[]> {
  readonly topology: ConsumerTopology;
  private readonly channel: ManagedChannel;
  private readonly context: DeliveryContext;
  private readonly inFlight = new Set<Promise<void>>();
  private consumerTag: string | undefined;
  private stopped = false;
  /** The event time (ms, from the AMQP timestamp) of the newest message taken, for the backlog. */
  private lastTakenAt: number | undefined;
  private readonly unregisterBacklog: (() => void) | undefined;

  constructor(private readonly options: ConsumerOptions<Defs>) {
    const delays = options.retryDelaysMs ?? retryDelaysMs;
    this.topology = consumerTopology(
      options.queue,
      options.events.map((e) => ({ exchange: options.exchange, routingKey: e.type })),
      delays,
    );
    this.context = {
      queue: options.queue,
      catalog: new EventCatalog(options.events),
      handle: options.handle as MessageHandler,
      retryDelaysMs: delays,
      logger: options.logger,
      metrics: options.metrics ? messagingMetrics(options.metrics) : undefined,
      confirmTimeoutMs: options.confirmTimeoutMs ?? 10_000,
      handlerTimeoutMs: options.handlerTimeoutMs ?? 60_000,
      returns: new WeakMap(),
      resetChannel: (reason, channel) => this.channel.reset(reason, channel),
    };
    this.channel = new ManagedChannel({
      broker: options.broker,
      logger: options.logger,
      name: `consumer:${options.queue}`,
      setup: (channel) => this.setup(channel),
    });
    if (options.metrics) {
      this.unregisterBacklog = registerConsumerBacklog(options.metrics, {
        queue: options.queue,
        lastTakenAt: () => this.lastTakenAt,
        readyMessages: () => this.readyMessages(this.options.queue),
        parkedMessages: () => this.readyMessages(this.topology.parkingQueue),
      });
    }
  }

  /**
   * Messages ready in the queue or its parking queue; asked only while consuming, when both
   * surely exist (a passive declare of a missing queue would close the channel).
   */
  private async readyMessages(queue: string): Promise<number | undefined> {
    const channel = this.channel.current;
    if (!channel || !this.consumerTag) return undefined;
    return (await channel.checkQueue(queue)).messageCount;
  }

  get queue(): string {
    return this.options.queue;
  }

  /** Consuming right now (false while the broker or the channel is being recovered). */
  get consuming(): boolean {
    return this.channel.current !== undefined && this.consumerTag !== undefined;
  }

  get lastError(): string | undefined {
    return this.channel.lastError;
  }

  get handling(): number {
    return this.inFlight.size;
  }

  /** Starts consuming, and consuming again after every reconnect, until `stop()`. */
  start(): void {
    this.channel.start();
  }

  /** Resolves once the topology is declared and the consumer is registered. */
  async whenConsuming(signal?: AbortSignal): Promise<void> {
    await this.channel.whenOpen(signal);
  }

  /**
   * Stops taking messages, lets the handlers in progress finish (up to `stopTimeoutMs`), then
   * closes the channel; anything unacknowledged goes back to the queue.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unregisterBacklog?.();
    const channel = this.channel.current;
    if (channel && this.consumerTag) await channel.cancel(this.consumerTag).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => (timer = setTimeout(resolve, this.options.stopTimeoutMs ?? 10_000))),
    ]);
    clearTimeout(timer);
    await this.channel.stop();
  }

  private async setup(channel: ConfirmChannel): Promise<void> {
    this.consumerTag = undefined;
    this.context.returns.set(channel, ReturnTracker.attach(channel));
    await declareConsumerTopology(channel, this.topology);
    await channel.prefetch(this.options.prefetch ?? 16);
    if (this.stopped) return;
    const { consumerTag } = await channel.consume(
      this.options.queue,
      (message) => this.onMessage(channel, message),
      { noAck: false },
    );
    this.consumerTag = consumerTag;
    channel.once('close', () => {
      if (this.consumerTag === consumerTag) this.consumerTag = undefined;
    });
  }

  private onMessage(channel: ConfirmChannel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled us (the queue was deleted): a fresh channel declares it again.
      void this.channel.reset('consumer cancelled by the broker', channel);
      return;
    }
    if (this.stopped) {
      // Delivered while the cancel was on its way: not started, so straight back to the queue.
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel closed: the broker requeues it anyway.
      }
      return;
    }
    const timestamp = message.properties.timestamp as number | undefined;
    if (typeof timestamp === 'number') this.lastTakenAt = timestamp * 1000;
    const trace = this.options.hopTrace;
    const delivered = trace ? wallClockMs() : 0;
    const done = processDelivery(this.context, channel, message)
      .then(() =>
        trace?.record({
          hop: 'consume',
          queue: this.options.queue,
          id: String(message.properties.messageId),
          delivered,
          handled: wallClockMs(),
        }),
      )
      .catch((error: unknown) => {
        // A bug in the bus itself: leave the message unacknowledged and start a fresh channel.
        this.options.logger.error('message processing failed', {
          queue: this.options.queue,
          error: (error as Error).message,
        });
        return this.channel.reset('message processing failed', channel);
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

import { EventEmitter } from 'node:events';
import { type CheckpointStore } from '../coordination/checkpoint-store';
import { LeaderLock } from '../coordination/leader-lock';
import {
  type AllFilter,
  type EventStore,
  type Position,
  type RecordedEvent,
  START,
  type Subscription,
  type SubscriptionLag,
  comparePositions,
  formatPosition,
} from '../event-store/types';
import { type Logger } from '../logging/logger';
import { type Metrics } from '../metrics/metrics';
import { registerRelayMetrics } from './messaging-metrics';
import { whenAborted } from './abortable';
import { CheckpointPipeline } from './checkpoint-pipeline';
import { type BrokerConnection } from './broker-connection';
import { EventPublisher, type PublishReport } from './event-publisher';
import { type HopTrace, wallClockMs } from './hop-trace';

export interface RelayOptions {
  /** The service name: the CloudEvent `source`. */
  service: string;
  /** The service's topic exchange. */
  exchange: string;
  eventStore: EventStore;
  checkpoints: CheckpointStore;
  broker: BrokerConnection;
  /** The service's database: its advisory lock picks the one relay instance that publishes. */
  databaseUrl: string;
  logger: Logger;
  metrics?: Metrics;
  /** Checkpoint name and leader-lock key. */
  name?: string;
  /** Events per publish-and-confirm round; the checkpoint is saved once per round. */
  batchSize?: number;
  /** Batches published ahead while earlier ones await their confirms. */
  pipelineDepth?: number;
  filter?: AllFilter;
  leaderRetryMs?: number;
  confirmTimeoutMs?: number;
  /** Records when each batch was read, handed to the channel and confirmed (BUS_HOP_TRACE_FILE). */
  hopTrace?: HopTrace;
}

export interface RelayStatus {
  leader: boolean;
  caughtUp: boolean;
  /** The checkpoint: every event up to here has been confirmed by the broker. */
  position: Position | undefined;
  relayed: number;
  unroutable: number;
  brokerReady: boolean;
}

/**
 * Publishes every event of the service's event store to its exchange, in `$all` order, and
 * moves its checkpoint only after the broker has confirmed a whole batch. A crash between the
 * confirm and the checkpoint sends that batch again on restart (same message ids, absorbed by
 * the consumers' idempotency). While the broker is down the relay waits inside the batch;
 * appends carry on, and it catches up when the broker is back. Among a service's instances only
 * the holder of the `relay` leader lock publishes.
 *
 * Unroutable events (returned because no queue is bound for their type) count as relayed: a
 * topic exchange with no subscriber for a type is normal, and a consumer bound later reads from
 * then on (older events can be republished to its queue). They are counted in
 * `bus_unroutable_total` so a missing binding shows up.
 */
export class Relay extends EventEmitter {
  private readonly publisher: EventPublisher;
  private readonly lock: LeaderLock;
  private readonly name: string;
  private subscription: Subscription | undefined;
  private running: Promise<void> | undefined;
  private positionValue: Position | undefined;
  private relayedCount = 0;
  private unroutableCount = 0;
  /** Events published in the current leadership whose batch is not checkpointed yet. */
  private unconfirmed = 0;

  constructor(private readonly options: RelayOptions) {
    super();
    this.name = options.name ?? 'relay';
    this.publisher = new EventPublisher({
      broker: options.broker,
      exchange: options.exchange,
      source: options.service,
      logger: options.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.confirmTimeoutMs ? { confirmTimeoutMs: options.confirmTimeoutMs } : {}),
    });
    this.lock = new LeaderLock({
      connectionString: options.databaseUrl,
      key: this.name,
      logger: options.logger,
      ...(options.leaderRetryMs ? { retryMs: options.leaderRetryMs } : {}),
    });
    if (options.metrics) registerRelayMetrics(options.metrics, this, options.eventStore);
  }

  get isLeader(): boolean {
    return this.lock.isLeader;
  }

  status(): RelayStatus {
    return {
      leader: this.lock.isLeader,
      caughtUp: this.subscription?.caughtUp ?? false,
      position: this.positionValue,
      relayed: this.relayedCount,
      unroutable: this.unroutableCount,
      brokerReady: this.publisher.ready,
    };
  }

  /**
   * How far behind the store's head the checkpoint is; undefined when this instance does not
   * lead. PostgreSQL counts events (those read but not yet confirmed included); EventStoreDB
   * reports log bytes after the subscription's position.
   */
  async lag(): Promise<SubscriptionLag | undefined> {
    const lag = await this.subscription?.lag();
    if (!lag) return undefined;
    const unconfirmed = this.options.eventStore.kind === 'postgres' ? this.unconfirmed : 0;
    return { ...lag, position: this.positionValue, behind: lag.behind + unconfirmed };
  }

  /** Starts contending for leadership; relays while leading, until `stop()`. */
  start(): void {
    this.running ??= this.lock.run((signal) => this.lead(signal));
  }

  async stop(): Promise<void> {
    await this.lock.stop();
    // Closing the channel fails confirms still awaited, so a batch in flight ends now.
    await Promise.all([this.running, this.publisher.stop()]);
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const from = (await this.options.checkpoints.load(this.name)) ?? START;
    this.positionValue = from;
    this.unconfirmed = 0;
    this.options.logger.info('relay leading', {
      exchange: this.options.exchange,
      from: formatPosition(from),
    });
    const pipeline = new CheckpointPipeline<PublishReport | undefined>(
      this.options.pipelineDepth ?? 3,
    );
    const subscription = this.options.eventStore.subscribeToAll({
      from,
      batchSize: this.options.batchSize ?? 500,
      ...(this.options.filter ? { filter: this.options.filter } : {}),
      onEvents: (events) => this.relay(pipeline, events, signal),
      onCheckpoint: (position) =>
        pipeline.push(Promise.resolve(undefined), () => this.advance(position)),
    });
    this.subscription = subscription;
    try {
      // A failed batch (the database gone while saving, say) ends the leadership: the lock
      // retries, and the relay starts again from its checkpoint.
      await Promise.race([subscription.done, pipeline.failure, whenAborted(signal)]);
    } finally {
      this.subscription = undefined;
      await subscription.stop();
    }
  }

  /** Publishes a batch and returns while its confirms are awaited (up to the pipeline's depth). */
  private async relay(
    pipeline: CheckpointPipeline<PublishReport | undefined>,
    events: RecordedEvent[],
    signal: AbortSignal,
  ): Promise<void> {
    this.unconfirmed += events.length;
    const trace = this.options.hopTrace;
    const seen = trace ? wallClockMs() : 0;
    let handedOver = 0;
    const published = this.publisher.publish(events, {
      signal,
      ...(trace ? { onHandedOver: () => (handedOver = wallClockMs()) } : {}),
    });
    const traced = trace
      ? published.then((report) => {
          const ids = events.map((e) => e.id);
          trace.record({
            hop: 'relay',
            ids,
            seen,
            published: handedOver,
            confirmed: wallClockMs(),
          });
          return report;
        })
      : published;
    const last = events[events.length - 1]!.position;
    await pipeline.push(traced, {
      confirmed: (report) => {
        this.unconfirmed -= events.length;
        this.relayedCount += events.length;
        this.unroutableCount += report?.unroutable.length ?? 0;
        this.emit('relayed', events);
      },
      save: () => this.advance(last),
    });
  }

  private async advance(position: Position): Promise<void> {
    if (this.positionValue && comparePositions(position, this.positionValue) <= 0) return;
    await this.options.checkpoints.save(this.name, position);
    this.positionValue = position;
    this.emit('checkpoint', position);
  }
}

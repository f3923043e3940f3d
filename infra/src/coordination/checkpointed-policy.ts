import { type Position, type RecordedEvent, START, type EventStore } from '../event-store/types';
import { type Logger } from '../logging/logger';
import { backoffDelay, sleep } from '../runtime/backoff';
import { type CheckpointStore } from './checkpoint-store';
import { LeaderLock } from './leader-lock';

export interface CheckpointedPolicyOptions {
  /** The checkpoint's and the lock's name, e.g. `invoice-policy`. */
  name: string;
  store: EventStore;
  checkpoints: CheckpointStore;
  /** The service's database: its advisory lock picks the one instance that runs the policy. */
  connectionString: string;
  logger: Logger;
  /** The events the policy reacts to. */
  eventTypes: string[];
  /**
   * Reacts to a batch, in order. It must be idempotent: after a crash or a lost lock the events
   * since the stored checkpoint come again. A throw stops the subscription; the policy resumes
   * from its checkpoint after a pause that grows with each failure in a row.
   */
  handle(events: RecordedEvent[]): Promise<void>;
  /**
   * Stores the checkpoint at most this often (0, the default: after every batch). Every append
   * wakes the subscription, so a write per wake costs a commit per event; what a longer interval
   * gives up is only handled again after a crash.
   */
  checkpointIntervalMs?: number;
  batchSize?: number;
  leaderRetryMs?: number;
}

/**
 * A process reacting to its own service's events: a checkpointed subscription to the event store
 * on the one instance holding the lock (the invoice policy, the mail policies). The subscription
 * resumes from the checkpoint whenever the lock is won again or a batch failed.
 */
export class CheckpointedPolicy {
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: CheckpointedPolicyOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: options.name,
      logger: options.logger,
      retryMs: options.leaderRetryMs ?? 2_000,
    });
  }

  get isLeader(): boolean {
    return this.lock.isLeader;
  }

  start(): void {
    this.running ??= this.lock.run((signal) => this.lead(signal));
  }

  async stop(): Promise<void> {
    await this.lock.stop();
    await this.running;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const { store, checkpoints, name, logger } = this.options;
    const interval = this.options.checkpointIntervalMs ?? 0;
    const from = (await checkpoints.load(name)) ?? START;
    let pending: Position | undefined;
    let savedAt = 0;
    const checkpoint = async (position: Position, force = false) => {
      pending = position;
      if (!force && Date.now() - savedAt < interval) return;
      await checkpoints.save(name, position);
      savedAt = Date.now();
      if (pending === position) pending = undefined;
    };
    const subscription = store.subscribeToAll({
      from,
      filter: { eventTypes: this.options.eventTypes },
      batchSize: this.options.batchSize ?? 100,
      onEvents: async (events) => {
        if (signal.aborted) throw new Error('leadership lost');
        await this.options.handle(events);
        await checkpoint(events[events.length - 1]!.position);
        this.failures = 0;
      },
      onCheckpoint: (position) => checkpoint(position),
    });
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([subscription.done, aborted]);
    } catch (error) {
      // Wait a little longer after each failure before the lock runs us again.
      this.failures += 1;
      logger.warn('policy stopped; resuming from its checkpoint', {
        policy: name,
        error: (error as Error).message,
        failures: this.failures,
      });
      await sleep(backoffDelay(this.failures, 200, 30_000), signal);
    } finally {
      await subscription.stop();
      if (pending) await checkpoint(pending, true).catch(() => undefined);
    }
  }
}

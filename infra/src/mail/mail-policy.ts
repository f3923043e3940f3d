import { type CheckpointStore } from '../coordination/checkpoint-store';
import { LeaderLock } from '../coordination/leader-lock';
import { type Position, type RecordedEvent, START, type EventStore } from '../event-store/types';
import { type Logger } from '../logging/logger';
import { backoffDelay, sleep } from '../runtime/backoff';
import { type MailOutbox, type QueuedMail } from './outbox';

export interface MailPolicyOptions {
  /** The checkpoint's and the lock's name, e.g. `user-mail-policy`. */
  name: string;
  store: EventStore;
  checkpoints: CheckpointStore;
  outbox: MailOutbox;
  /** The service's database: its advisory lock picks the one instance that queues mails. */
  connectionString: string;
  logger: Logger;
  eventTypes: string[];
  /** The mails an event asks for (none: an empty list). Keys derive from the event's id. */
  mailsFor(event: RecordedEvent): QueuedMail[];
  /** Events older than this when first seen (a fresh database, a long outage) ask for no mail. */
  maxAgeMs: number;
  /** Told after mails were queued (to wake the sender on this instance). */
  onQueued?: () => void;
  leaderRetryMs?: number;
  now?: () => Date;
}

/**
 * Turns the service's own events into queued mails: a checkpointed subscription to its event
 * store on the one instance holding the lock, like the invoice policy. The event is the record
 * of the mail; the outbox row, keyed by the event, is queued before the checkpoint moves, so a
 * crash replays the events since the checkpoint and queuing them again adds nothing. Sending is
 * the MailSender's: a slow or failing SMTP server never holds this subscription back.
 */
export class MailPolicy {
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: MailPolicyOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: options.name,
      logger: options.logger,
      retryMs: options.leaderRetryMs ?? 2_000,
    });
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
    const from = (await checkpoints.load(name)) ?? START;
    const subscription = store.subscribeToAll({
      from,
      filter: { eventTypes: this.options.eventTypes },
      batchSize: 100,
      onEvents: async (events) => {
        if (signal.aborted) throw new Error('leadership lost');
        await this.handle(events);
        await checkpoints.save(name, events[events.length - 1]!.position);
        this.failures = 0;
      },
      onCheckpoint: (position: Position) => checkpoints.save(name, position),
    });
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([subscription.done, aborted]);
    } catch (error) {
      this.failures += 1;
      logger.warn('mail policy stopped; resuming from its checkpoint', {
        policy: name,
        error: (error as Error).message,
        failures: this.failures,
      });
      await sleep(backoffDelay(this.failures, 200, 30_000), signal);
    } finally {
      await subscription.stop();
    }
  }

  private async handle(events: RecordedEvent[]): Promise<void> {
    const { outbox, maxAgeMs } = this.options;
    const now = (this.options.now ?? (() => new Date()))().getTime();
    const mails = events
      .filter((event) => now - event.createdAt.getTime() <= maxAgeMs)
      .flatMap((event) => this.options.mailsFor(event));
    if (mails.length === 0) return;
    const added = await outbox.enqueue(mails);
    if (added > 0) this.options.onQueued?.();
  }
}

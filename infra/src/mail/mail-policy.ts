import { type CheckpointStore } from '../coordination/checkpoint-store';
import { CheckpointedPolicy } from '../coordination/checkpointed-policy';
import { type RecordedEvent, type EventStore } from '../event-store/types';
import { type Logger } from '../logging/logger';
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
  private readonly policy: CheckpointedPolicy;

  constructor(private readonly options: MailPolicyOptions) {
    this.policy = new CheckpointedPolicy({
      name: options.name,
      store: options.store,
      checkpoints: options.checkpoints,
      connectionString: options.connectionString,
      logger: options.logger,
      eventTypes: options.eventTypes,
      handle: (events) => this.handle(events),
      ...(options.leaderRetryMs !== undefined ? { leaderRetryMs: options.leaderRetryMs } : {}),
    });
  }

  start(): void {
    this.policy.start();
  }

  stop(): Promise<void> {
    return this.policy.stop();
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

import { type Kysely } from 'kysely';
import { CheckpointStore } from '../coordination/checkpoint-store';
import { type RecordedEvent } from '../event-store/types';
import { type ServiceHost } from '../runtime/service-host';
import { type MailConfig } from './config';
import { type Mailer, SmtpMailer } from './mailer';
import { MailPolicy } from './mail-policy';
import { MailOutbox, type QueuedMail } from './outbox';
import { type MailRenderer, MailSender } from './sender';

export interface Mail {
  outbox: MailOutbox;
  sender: MailSender;
  /** Queues mails outside the policy (a consumer of another service's events) and wakes the sender. */
  enqueue(mails: readonly QueuedMail[]): Promise<number>;
}

export interface StartMailOptions {
  renderers: Record<string, MailRenderer>;
  /** The service's own events that ask for mails, when some do. */
  policy?: {
    name: string;
    eventTypes: string[];
    mailsFor(event: RecordedEvent): QueuedMail[];
    maxAgeMs?: number;
  };
  /** Instead of SMTP (tests of failures). */
  mailer?: Mailer;
}

/** The mail pieces of a service, built on its host, stopped with it, pruned by its housekeeping. */
export function startMail<DB>(
  host: ServiceHost<DB>,
  config: MailConfig,
  options: StartMailOptions,
): Mail {
  const outbox = new MailOutbox(host.database.db as Kysely<unknown>);
  const sent = host.metrics.counter('mails_total', 'Mail attempts by kind and outcome', [
    'kind',
    'outcome',
  ]);
  const sender = new MailSender({
    outbox,
    mailer: options.mailer ?? new SmtpMailer(config),
    renderers: options.renderers,
    logger: host.logger,
    pollIntervalMs: config.MAIL_POLL_INTERVAL_MS,
    retryMinMs: config.MAIL_RETRY_MIN_MS,
    retryMaxMs: config.MAIL_RETRY_MAX_MS,
    maxAttempts: config.MAIL_MAX_ATTEMPTS,
    count: (kind, outcome) => sent.inc({ kind, outcome }),
  });
  sender.start();
  host.onStop(() => sender.stop());
  if (options.policy) {
    const policy = new MailPolicy({
      ...options.policy,
      maxAgeMs: options.policy.maxAgeMs ?? 86_400_000,
      store: host.eventStore,
      checkpoints: new CheckpointStore(host.database.pool),
      outbox,
      connectionString: host.config.DATABASE_URL,
      logger: host.logger,
      onQueued: () => sender.poke(),
    });
    policy.start();
    host.onStop(() => policy.stop());
  }
  host.housekeeping.add({
    name: 'mail-outbox',
    prune: () => outbox.prune(30 * 86_400_000),
  });
  return {
    outbox,
    sender,
    enqueue: async (mails) => {
      const added = await outbox.enqueue(mails);
      if (added > 0) sender.poke();
      return added;
    },
  };
}

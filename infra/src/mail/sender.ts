import { type Logger } from '../logging/logger';
import { backoffDelay, sleep } from '../runtime/backoff';
import { requestContext } from '../runtime/request-context';
import { type Mailer, type OutgoingMail } from './mailer';
import { type MailOutbox, type OutboxRow } from './outbox';

/** What a queued mail becomes at its attempt: the mail, or why none is sent (preferences off). */
export type Rendered = OutgoingMail | { skip: string };

/**
 * Renders one kind of mail from its payload. Throwing means "not now" (a fact not known yet,
 * a dependency down): the mail is tried again later with backoff.
 */
export type MailRenderer = (payload: Record<string, unknown>) => Promise<Rendered>;

export interface MailSenderOptions {
  outbox: MailOutbox;
  mailer: Mailer;
  renderers: Record<string, MailRenderer>;
  logger: Logger;
  pollIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** Counts each attempt's outcome by kind, when given. */
  count?: (kind: string, outcome: 'sent' | 'skipped' | 'retry' | 'failed') => void;
  /** Mails taken per round; each is held this long before another instance may take it. */
  batchSize?: number;
  leaseMs?: number;
}

/**
 * Sends what the outbox holds, on every instance (claims are leased with SKIP LOCKED, so two
 * instances never take the same mail at once). A mail that fails waits with backoff and is
 * tried again; it never holds back the command that queued it nor the mails behind it.
 * At-least-once: a sender that dies between the SMTP answer and recording it sends that mail
 * again after the lease, with the same Message-ID.
 */
export class MailSender {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Poked since the current round began: the round may have claimed before the mail was queued. */
  private poked = false;

  constructor(private readonly options: MailSenderOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Looks for due mails now (after something was queued here). */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.running;
    this.options.mailer.close();
  }

  /** One round: sends every mail due now; resolves with how many were attempted. */
  async sendDue(): Promise<number> {
    const { outbox, batchSize = 20 } = this.options;
    // Longer than one attempt can take (connect + greeting + socket timeouts each bounded).
    const leaseMs = this.options.leaseMs ?? 120_000;
    let attempted = 0;
    for (;;) {
      if (this.abort.signal.aborted) return attempted;
      const rows = await outbox.claim(batchSize, leaseMs);
      for (const row of rows) await this.attempt(row);
      attempted += rows.length;
      if (rows.length < batchSize) return attempted;
    }
  }

  private async loop(): Promise<void> {
    const { logger, pollIntervalMs } = this.options;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      this.poked = false;
      try {
        await this.sendDue();
        failures = 0;
      } catch (error) {
        failures += 1;
        logger.warn('mail outbox unavailable', { error: (error as Error).message, failures });
      }
      const pause = failures > 0 ? backoffDelay(failures, pollIntervalMs, 30_000) : pollIntervalMs;
      // A poke or stop() ends the pause, and its sleep with it: a sleep left running after an
      // early wake kept its timer and a listener on the stop signal (eleven at once under a
      // burst of mails, Node's MaxListeners warning).
      const pausing = new AbortController();
      this.wake = () => pausing.abort();
      if (this.abort.signal.aborted) break; // stop() came during the round
      // A poke during the round (its mail perhaps queued after the claim): go round again now.
      if (!this.poked) await sleep(pause, pausing.signal);
      this.wake = undefined;
    }
  }

  private async attempt(row: OutboxRow): Promise<void> {
    const { outbox, mailer, renderers, logger, count } = this.options;
    const fields = { mailKey: row.key, kind: row.kind, attempt: row.attempts + 1 };
    await requestContext.run({ correlationId: row.key }, async () => {
      const render = renderers[row.kind];
      try {
        if (!render) throw new Error(`no renderer for mail kind ${row.kind}`);
        const rendered = await render(row.payload);
        if ('skip' in rendered) {
          await outbox.finish(row.key, 'skipped', rendered.skip);
          count?.(row.kind, 'skipped');
          logger.info('mail not sent', { ...fields, reason: rendered.skip });
          return;
        }
        await mailer.send(rendered, row.key);
        await outbox.finish(row.key, 'sent');
        count?.(row.kind, 'sent');
        // The recipient's address is personal data: the key and kind say which mail it was.
        logger.info('mail sent', fields);
      } catch (error) {
        await this.failed(row, (error as Error).message ?? String(error), fields);
      }
    });
  }

  private async failed(
    row: OutboxRow,
    error: string,
    fields: Record<string, unknown>,
  ): Promise<void> {
    const { outbox, logger, count, maxAttempts, retryMinMs, retryMaxMs } = this.options;
    const text = error.slice(0, 500);
    if (row.attempts + 1 >= maxAttempts) {
      await outbox.finish(row.key, 'failed', text);
      count?.(row.kind, 'failed');
      logger.error('mail given up', { ...fields, error: text });
      return;
    }
    const delayMs = backoffDelay(row.attempts + 1, retryMinMs, retryMaxMs);
    await outbox.retryLater(row.key, delayMs, text);
    count?.(row.kind, 'retry');
    logger.warn('mail not sent; will retry', { ...fields, error: text, retryInMs: delayMs });
  }
}

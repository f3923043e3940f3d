import { paymentEventTypes } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type CheckpointStore,
  type EventStore,
  LeaderLock,
  type Logger,
  type RecordedEvent,
  START,
  WrongExpectedRevisionError,
  backoffDelay,
  requestContext,
  sleep,
} from '@meetmatt/infra';
import {
  type InvoiceNumberAllocated,
  decideAllocation,
  formatInvoiceNumber,
  invoiceCounterStreamId,
} from '../domain/invoice-counter';
import { type PaymentConfirmed } from '../domain/payment';
import { type PaymentCommands, nowIso } from './payment-commands';

export type IssueOutcome =
  | { kind: 'issued'; invoiceNumber: string }
  | { kind: 'already-issued'; invoiceNumber: string }
  | { kind: 'refused'; reason: string };

/** How far back from a confirmation a retry looks for a number the payment already took. */
const LOOKBACK_SLACK_MS = 10 * 60_000;
const PAGE = 200;
const MAX_ATTEMPTS = 50;

/**
 * Issues the invoice of a confirmed payment with a gapless number of its year:
 *  1. the payment already has one: done (a retry, a replay);
 *  2. a number is taken from `invoice-counter-<year>`, appended with the counter's revision as
 *     the expected one (two payments at once: one wins, the other reads again and takes the
 *     next); the allocation names the payment, so a retry after a crash finds its number;
 *  3. `payment.invoice-issued` is appended to the payment's stream with its revision.
 * Every number taken is issued to the payment it names, so the sequence has no gaps.
 */
export class InvoiceIssuer {
  constructor(
    private readonly store: EventStore,
    private readonly commands: PaymentCommands,
  ) {}

  get catalog() {
    return this.commands.catalog;
  }

  /**
   * @param confirmed the payment's `payment.confirmed`
   * @param recordedAt when it was stored: numbers taken for it can only be younger
   */
  async issue(
    confirmed: PaymentConfirmed['data'],
    recordedAt: Date,
    metadata: CausalMetadata,
  ): Promise<IssueOutcome> {
    const before = await this.commands.current(confirmed.paymentId);
    if (before.exists && before.invoiceNumber !== null)
      return { kind: 'already-issued', invoiceNumber: before.invoiceNumber };
    // The year of the confirmation, not of this attempt: a retry must pick the same counter.
    const year = new Date(confirmed.confirmedAt).getUTCFullYear();
    const sequence = await this.allocate(year, confirmed.paymentId, recordedAt, metadata);
    const invoiceNumber = formatInvoiceNumber(year, sequence);
    const result = await this.commands.execute(
      confirmed.paymentId,
      { type: 'IssueInvoice', invoiceNumber, now: nowIso() },
      metadata,
    );
    if (!result.ok) {
      if (result.error.code === 'invoice-already-issued' && result.state.exists) {
        return { kind: 'already-issued', invoiceNumber: result.state.invoiceNumber ?? '' };
      }
      return { kind: 'refused', reason: `${result.error.code}: ${result.error.message}` };
    }
    return result.events.length > 0
      ? { kind: 'issued', invoiceNumber }
      : { kind: 'already-issued', invoiceNumber };
  }

  /** The payment's number in the year's counter, taking the next one if it has none yet. */
  async allocate(
    year: number,
    paymentId: string,
    notBefore: Date,
    metadata: CausalMetadata,
  ): Promise<number> {
    const streamId = invoiceCounterStreamId(year);
    for (let attempt = 1; ; attempt++) {
      const counter = await this.readCounter(streamId, paymentId, notBefore);
      const [allocation] = decideAllocation(
        { type: 'AllocateInvoiceNumber', year, paymentId },
        counter,
      );
      if (!allocation) return counter.allocatedToPayment!;
      try {
        await this.store.appendToStream(
          streamId,
          [this.commands.catalog.toNew(allocation, metadata)],
          { expectedRevision: counter.revision < 0 ? 'no_stream' : counter.revision },
        );
        return allocation.data.sequence;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
        // Another payment took the number: read again, after a short jittered pause.
        await sleep(backoffDelay(attempt, 2, 50));
      }
    }
  }

  /**
   * The counter's last number and revision, and the number this payment took if it took one:
   * read newest first, only as far back as the payment's confirmation (minus some clock slack).
   */
  private async readCounter(
    streamId: string,
    paymentId: string,
    notBefore: Date,
  ): Promise<{ lastSequence: number; revision: number; allocatedToPayment: number | null }> {
    const oldest = notBefore.getTime() - LOOKBACK_SLACK_MS;
    let lastSequence = 0;
    let revision = -1;
    let from: number | 'end' = 'end';
    for (;;) {
      const page = await this.store.readStream(streamId, {
        direction: 'backwards',
        fromRevision: from,
        maxCount: PAGE,
      });
      for (const recorded of page) {
        const event = this.commands.catalog.toDomain(recorded) as InvoiceNumberAllocated;
        if (revision < 0) {
          revision = recorded.revision;
          lastSequence = event.data.sequence;
        }
        if (event.data.paymentId === paymentId) {
          return { lastSequence, revision, allocatedToPayment: event.data.sequence };
        }
        if (recorded.createdAt.getTime() < oldest) {
          return { lastSequence, revision, allocatedToPayment: null };
        }
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || !last || last.revision === 0) {
        return { lastSequence, revision, allocatedToPayment: null };
      }
      from = last.revision - 1;
    }
  }
}

export interface InvoicePolicyOptions {
  store: EventStore;
  issuer: InvoiceIssuer;
  checkpoints: CheckpointStore;
  /** The service's database: its advisory lock picks the one instance that issues invoices. */
  connectionString: string;
  logger: Logger;
  leaderRetryMs?: number;
}

const NAME = 'invoice-policy';

/**
 * Reacts to the service's own `payment.confirmed` events (a checkpointed subscription to its
 * event store, on the one instance holding the lock): each confirmation gets its invoice. A
 * failure stops the subscription, and the lock starts it again from the checkpoint; issuing is
 * idempotent, so an event handled twice still makes one invoice.
 */
export class InvoicePolicy {
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: InvoicePolicyOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: NAME,
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
    const { store, checkpoints } = this.options;
    const from = (await checkpoints.load(NAME)) ?? START;
    const subscription = store.subscribeToAll({
      from,
      filter: { eventTypes: [paymentEventTypes.confirmed] },
      batchSize: 100,
      onEvents: async (events) => {
        for (const event of events) {
          if (signal.aborted) throw new Error('leadership lost');
          await this.handle(event);
        }
        // Once per batch: after a crash the batch is handled again, which issuing absorbs.
        await checkpoints.save(NAME, events[events.length - 1]!.position);
        this.failures = 0;
      },
      onCheckpoint: (position) => checkpoints.save(NAME, position),
    });
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([subscription.done, aborted]);
    } catch (error) {
      // Wait a little longer after each failure before the lock runs us again.
      this.failures += 1;
      this.options.logger.warn('invoice policy stopped; resuming from its checkpoint', {
        error: (error as Error).message,
        failures: this.failures,
      });
      await sleep(backoffDelay(this.failures, 200, 30_000), (wake) =>
        signal.addEventListener('abort', wake, { once: true }),
      );
    } finally {
      await subscription.stop();
    }
  }

  private async handle(event: RecordedEvent): Promise<void> {
    const { issuer, logger } = this.options;
    const data = issuer.catalog.upcast(event) as PaymentConfirmed['data'];
    const { correlationId, userId } = event.metadata;
    const metadata: CausalMetadata = {
      correlationId,
      causationId: event.id,
      ...(userId ? { userId } : {}),
    };
    const context = { correlationId, causationId: event.id };
    await requestContext.run(context, async () => {
      const outcome = await issuer.issue(data, event.createdAt, metadata);
      const fields = { paymentId: data.paymentId, ...outcome };
      if (outcome.kind === 'issued') logger.info('invoice issued', fields);
      // Not retried: the payment's own history says it cannot have an invoice.
      else if (outcome.kind === 'refused') logger.error('invoice not issued', fields);
    });
  }
}

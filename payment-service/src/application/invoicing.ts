import { type BillingDetails, paymentEventTypes } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  CheckpointedPolicy,
  type CheckpointStore,
  type EventStore,
  type Logger,
  type RecordedEvent,
  requestContext,
} from '@meetmatt/infra';
import { type PaymentConfirmed, type PaymentRefundCompleted } from '../domain/payment';
import { type CreditNoteIssuer } from './credit-notes';
import { DocumentNumbers } from './document-numbers';
import { type PaymentCommands, nowIso } from './payment-commands';

/** The buyer's billing details as the payment service knows them now (see buyers.ts). */
export type BuyerLookup = (userId: string) => Promise<BillingDetails | null>;

export type IssueOutcome =
  | { kind: 'issued'; invoiceNumber: string }
  | { kind: 'already-issued'; invoiceNumber: string }
  | { kind: 'refused'; reason: string };

/** A confirmation to invoice: the payment's `payment.confirmed`, and when it was stored. */
export interface Confirmation {
  confirmed: PaymentConfirmed['data'];
  /** Numbers taken for the payment can only be younger than this. */
  recordedAt: Date;
  metadata: CausalMetadata;
}

/**
 * Issues the invoices of confirmed payments with gapless numbers per year:
 *  1. a payment that already has its invoice is done (a retry, a replay);
 *  2. numbers are taken from `invoice-counter-<year>` in one append, with the counter's revision
 *     as the expected one (another issuer at the same time: one wins, the other reads again and
 *     takes the next numbers); each allocation names its payment, so a retry after a crash finds
 *     the number the payment already took instead of taking another;
 *  3. `payment.invoice-issued` is appended to each payment's stream with its revision, carrying
 *     the buyer's billing details as they are at that moment.
 * Every number taken is issued to the payment it names, so the sequence has no gaps.
 */
export class InvoiceIssuer {
  private readonly numbers: DocumentNumbers;

  constructor(
    store: EventStore,
    private readonly commands: PaymentCommands,
    private readonly buyerOf: BuyerLookup,
  ) {
    this.numbers = new DocumentNumbers(store, commands.catalog, 'invoice');
  }

  get catalog() {
    return this.commands.catalog;
  }

  /** One confirmation: see `issueAll`. */
  async issue(
    confirmed: PaymentConfirmed['data'],
    recordedAt: Date,
    metadata: CausalMetadata,
  ): Promise<IssueOutcome> {
    const [outcome] = await this.issueAll([{ confirmed, recordedAt, metadata }]);
    return outcome!;
  }

  /** Invoices each confirmation (outcomes in the same order), numbering them in that order. */
  async issueAll(confirmations: readonly Confirmation[]): Promise<IssueOutcome[]> {
    const outcomes = new Map<string, IssueOutcome>();
    const pending: Confirmation[] = [];
    for (const c of confirmations) {
      // A cached state may lack an invoice issued elsewhere; then the allocation finds the
      // number that payment took and issuing it again changes nothing.
      const state = await this.commands.current(c.confirmed.paymentId);
      if (state.exists && state.invoiceNumber !== null) {
        outcomes.set(c.confirmed.paymentId, {
          kind: 'already-issued',
          invoiceNumber: state.invoiceNumber,
        });
      } else pending.push(c);
    }
    // The year of the confirmation, not of this attempt: a retry must pick the same counter.
    const byYear = new Map<number, Confirmation[]>();
    for (const c of pending) {
      const year = new Date(c.confirmed.confirmedAt).getUTCFullYear();
      byYear.set(year, [...(byYear.get(year) ?? []), c]);
    }
    for (const [year, group] of byYear) {
      const numbers = await this.numbers.allocate(
        year,
        group.map((c) => ({
          paymentId: c.confirmed.paymentId,
          recordedAt: c.recordedAt,
          metadata: c.metadata,
        })),
      );
      for (const c of group) {
        const { paymentId, userId } = c.confirmed;
        if (outcomes.has(paymentId)) continue;
        const invoiceNumber = numbers.get(paymentId)!;
        // The details as they are when the invoice is issued: a later change leaves it as it is.
        const buyer = await this.buyerOf(userId);
        outcomes.set(
          paymentId,
          await this.issueNumber(paymentId, invoiceNumber, buyer, c.metadata),
        );
      }
    }
    return confirmations.map((c) => outcomes.get(c.confirmed.paymentId)!);
  }

  private async issueNumber(
    paymentId: string,
    invoiceNumber: string,
    buyer: BillingDetails | null,
    metadata: CausalMetadata,
  ): Promise<IssueOutcome> {
    const result = await this.commands.execute(
      paymentId,
      { type: 'IssueInvoice', invoiceNumber, buyer, now: nowIso() },
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
}

export interface InvoicePolicyOptions {
  store: EventStore;
  issuer: InvoiceIssuer;
  /** Credit notes for completed refunds; none issued without. */
  creditNotes?: CreditNoteIssuer;
  checkpoints: CheckpointStore;
  /** The service's database: its advisory lock picks the one instance that issues invoices. */
  connectionString: string;
  logger: Logger;
  leaderRetryMs?: number;
}

const NAME = 'invoice-policy';
const CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * Reacts to the service's own `payment.confirmed` and `payment.refund-completed` events (a
 * checkpointed subscription to its event store, on the one instance holding the lock): each
 * confirmation gets its invoice, each completed refund its credit note. A failure stops the
 * subscription, and the lock starts it again from the checkpoint; issuing is idempotent, so an
 * event handled twice still makes one invoice or credit note.
 */
export class InvoicePolicy {
  private readonly policy: CheckpointedPolicy;

  constructor(private readonly options: InvoicePolicyOptions) {
    this.policy = new CheckpointedPolicy({
      name: NAME,
      store: options.store,
      checkpoints: options.checkpoints,
      connectionString: options.connectionString,
      logger: options.logger,
      eventTypes: [
        paymentEventTypes.confirmed,
        ...(options.creditNotes ? [paymentEventTypes.refundCompleted] : []),
      ],
      handle: (events) => this.handle(events),
      // Issuing absorbs the events handled again after a crash (one invoice per payment).
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
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
    const { issuer, creditNotes, logger } = this.options;
    const causeOf = (event: RecordedEvent): CausalMetadata => {
      const { correlationId, userId } = event.metadata;
      return { correlationId, causationId: event.id, ...(userId ? { userId } : {}) };
    };
    const log = (metadata: CausalMetadata, write: () => void) =>
      requestContext.run(
        { correlationId: metadata.correlationId, causationId: metadata.causationId },
        write,
      );
    // Invoices first: a refund completed in the same batch credits the invoice issued here.
    const confirmations: Confirmation[] = events
      .filter((event) => event.type === paymentEventTypes.confirmed)
      .map((event) => ({
        confirmed: issuer.catalog.upcast(event) as PaymentConfirmed['data'],
        recordedAt: event.createdAt,
        metadata: causeOf(event),
      }));
    const outcomes = await issuer.issueAll(confirmations);
    outcomes.forEach((outcome, i) => {
      const { confirmed, metadata } = confirmations[i]!;
      log(metadata, () => {
        const fields = { paymentId: confirmed.paymentId, ...outcome };
        if (outcome.kind === 'issued') logger.info('invoice issued', fields);
        // Not retried: the payment's own history says it cannot have an invoice.
        else if (outcome.kind === 'refused') logger.error('invoice not issued', fields);
      });
    });
    if (!creditNotes) return;
    const refunds = events
      .filter((event) => event.type === paymentEventTypes.refundCompleted)
      .map((event) => ({
        completed: issuer.catalog.upcast(event) as PaymentRefundCompleted['data'],
        recordedAt: event.createdAt,
        metadata: causeOf(event),
      }));
    const credited = await creditNotes.issueAll(refunds);
    credited.forEach((outcome, i) => {
      const { completed, metadata } = refunds[i]!;
      log(metadata, () => {
        const fields = { paymentId: completed.paymentId, ...outcome };
        if (outcome.kind === 'issued') logger.info('credit note issued', fields);
        // A refund of a payment never invoiced (partially paid) has no invoice to credit.
        else if (outcome.kind === 'refused') logger.warn('credit note not issued', fields);
      });
    });
  }
}

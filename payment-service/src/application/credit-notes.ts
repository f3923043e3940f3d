import { type CausalMetadata, type EventStore } from '@meetmatt/infra';
import { type PaymentRefundCompleted } from '../domain/payment';
import { DocumentNumbers } from './document-numbers';
import { type PaymentCommands, nowIso } from './payment-commands';

export type CreditNoteOutcome =
  | { kind: 'issued'; creditNoteNumber: string }
  | { kind: 'already-issued'; creditNoteNumber: string }
  | { kind: 'refused'; reason: string };

/** A completed refund to credit: the payment's `payment.refund-completed`, and when it was stored. */
export interface CompletedRefund {
  completed: PaymentRefundCompleted['data'];
  recordedAt: Date;
  metadata: CausalMetadata;
}

/**
 * Issues the credit note of each completed refund, numbered in its own gapless sequence per year
 * (`credit-note-counter-<year>`, MM-CN-2026-000001) the way invoices are (see InvoiceIssuer):
 * a payment that has its credit note is done; the numbers are taken in one append naming their
 * payments, so a retry, a redelivery or a second instance finds the number the payment took;
 * then `payment.credit-note-issued` is appended to the payment's stream. One refund per payment,
 * so one credit note per refund.
 */
export class CreditNoteIssuer {
  private readonly numbers: DocumentNumbers;

  constructor(
    store: EventStore,
    private readonly commands: PaymentCommands,
  ) {
    this.numbers = new DocumentNumbers(store, commands.catalog, 'credit-note');
  }

  async issue(
    completed: PaymentRefundCompleted['data'],
    recordedAt: Date,
    metadata: CausalMetadata,
  ): Promise<CreditNoteOutcome> {
    const [outcome] = await this.issueAll([{ completed, recordedAt, metadata }]);
    return outcome!;
  }

  /** Credits each refund (outcomes in the same order), numbering them in that order. */
  async issueAll(refunds: readonly CompletedRefund[]): Promise<CreditNoteOutcome[]> {
    const outcomes = new Map<string, CreditNoteOutcome>();
    const byYear = new Map<number, CompletedRefund[]>();
    for (const r of refunds) {
      const { paymentId } = r.completed;
      const state = await this.commands.current(paymentId);
      if (state.exists && state.creditNoteNumber !== null) {
        outcomes.set(paymentId, {
          kind: 'already-issued',
          creditNoteNumber: state.creditNoteNumber,
        });
      } else if (state.exists && state.invoiceNumber === null && state.creditNoteNumber === null) {
        // Nothing was invoiced (a partial payment refunded): no number is taken, so none is lost.
        outcomes.set(paymentId, {
          kind: 'refused',
          reason: 'invoice-not-issued: the payment was never invoiced',
        });
      } else {
        // The year of the refund, not of this attempt: a retry must pick the same counter.
        const year = new Date(r.completed.completedAt).getUTCFullYear();
        byYear.set(year, [...(byYear.get(year) ?? []), r]);
      }
    }
    for (const [year, group] of byYear) {
      const numbers = await this.numbers.allocate(
        year,
        group.map((r) => ({
          paymentId: r.completed.paymentId,
          recordedAt: r.recordedAt,
          metadata: r.metadata,
        })),
      );
      for (const r of group) {
        const { paymentId } = r.completed;
        if (outcomes.has(paymentId)) continue;
        outcomes.set(
          paymentId,
          await this.issueNumber(paymentId, numbers.get(paymentId)!, r.metadata),
        );
      }
    }
    return refunds.map((r) => outcomes.get(r.completed.paymentId)!);
  }

  private async issueNumber(
    paymentId: string,
    creditNoteNumber: string,
    metadata: CausalMetadata,
  ): Promise<CreditNoteOutcome> {
    const result = await this.commands.execute(
      paymentId,
      { type: 'IssueCreditNote', creditNoteNumber, now: nowIso() },
      metadata,
    );
    if (!result.ok) {
      if (result.error.code === 'credit-note-already-issued' && result.state.exists)
        return { kind: 'already-issued', creditNoteNumber: result.state.creditNoteNumber ?? '' };
      return { kind: 'refused', reason: `${result.error.code}: ${result.error.message}` };
    }
    return result.events.length > 0
      ? { kind: 'issued', creditNoteNumber }
      : { kind: 'already-issued', creditNoteNumber };
  }
}

import { type EventOf, type paymentEvents } from '@meetmatt/contracts';

/**
 * The numbers of one year of one series of documents: invoices (stream
 * `invoice-counter-<year>`) and credit notes (`credit-note-counter-<year>`, a sequence of its
 * own). Each number is an event naming the payment it went to, appended with the counter's
 * revision as the expected one, so two payments numbered at once can never take the same
 * number, and a retry for a payment finds the number it already took instead of taking another
 * (no gaps).
 */

export type InvoiceNumberAllocated = EventOf<(typeof paymentEvents)['invoiceNumberAllocated']>;
export type CreditNoteNumberAllocated = EventOf<
  (typeof paymentEvents)['creditNoteNumberAllocated']
>;
export type NumberAllocated = InvoiceNumberAllocated | CreditNoteNumberAllocated;

/** The documents numbered: each series has its counter streams, its event and its format. */
export type NumberSeries = 'invoice' | 'credit-note';

/** What the allocation needs to know about the counter, read before deciding. */
export interface CounterView {
  /** The last number taken this year (0 before the first). */
  lastSequence: number;
  /** The numbers the payments asked about already took. */
  allocated: ReadonlyMap<string, number>;
}

export interface AllocateInvoiceNumbers {
  type: 'AllocateInvoiceNumbers';
  /** Invoices when absent. */
  series?: NumberSeries;
  year: number;
  /** In the order the numbers are to be given. */
  paymentIds: readonly string[];
}

/** The next numbers, in order, for the payments that have none yet (each payment once). */
export function decideAllocation(
  command: AllocateInvoiceNumbers,
  counter: CounterView,
): NumberAllocated[] {
  const events: NumberAllocated[] = [];
  const given = new Set<string>();
  let sequence = counter.lastSequence;
  for (const paymentId of command.paymentIds) {
    if (counter.allocated.has(paymentId) || given.has(paymentId)) continue;
    given.add(paymentId);
    sequence += 1;
    const data = { year: command.year, sequence, paymentId };
    events.push(
      command.series === 'credit-note'
        ? { type: 'payment.credit-note-number-allocated', data }
        : { type: 'payment.invoice-number-allocated', data },
    );
  }
  return events;
}

export function invoiceCounterStreamId(year: number): string {
  return `invoice-counter-${year}`;
}

export function creditNoteCounterStreamId(year: number): string {
  return `credit-note-counter-${year}`;
}

/** MM-2026-000042: the year, then the sequence on six digits. */
export function formatInvoiceNumber(year: number, sequence: number): string {
  return `MM-${year}-${String(sequence).padStart(6, '0')}`;
}

/** MM-CN-2026-000007: credit notes are numbered apart from invoices. */
export function formatCreditNoteNumber(year: number, sequence: number): string {
  return `MM-CN-${year}-${String(sequence).padStart(6, '0')}`;
}

/** Where each series keeps its counters and how it prints its numbers. */
export const numberSeries: Record<
  NumberSeries,
  {
    counterStreamId: (year: number) => string;
    format: (year: number, sequence: number) => string;
  }
> = {
  invoice: { counterStreamId: invoiceCounterStreamId, format: formatInvoiceNumber },
  'credit-note': { counterStreamId: creditNoteCounterStreamId, format: formatCreditNoteNumber },
};

import { type EventOf, type paymentEvents } from '@meetmatt/contracts';

/**
 * The invoice numbers of one year (stream `invoice-counter-<year>`): each number is an event
 * naming the payment it went to, appended with the counter's revision as the expected one, so
 * two payments confirmed at once can never take the same number, and a retry for a payment finds
 * the number it already took instead of taking another (no gaps).
 */

export type InvoiceNumberAllocated = EventOf<(typeof paymentEvents)['invoiceNumberAllocated']>;

/** What the allocation needs to know about the counter, read before deciding. */
export interface CounterView {
  /** The last number taken this year (0 before the first). */
  lastSequence: number;
  /** The number this payment already took, if it did. */
  allocatedToPayment: number | null;
}

export interface AllocateInvoiceNumber {
  type: 'AllocateInvoiceNumber';
  year: number;
  paymentId: string;
}

/** The next number, or nothing when the payment already has one. */
export function decideAllocation(
  command: AllocateInvoiceNumber,
  counter: CounterView,
): InvoiceNumberAllocated[] {
  if (counter.allocatedToPayment !== null) return [];
  return [
    {
      type: 'payment.invoice-number-allocated',
      data: {
        year: command.year,
        sequence: counter.lastSequence + 1,
        paymentId: command.paymentId,
      },
    },
  ];
}

export function invoiceCounterStreamId(year: number): string {
  return `invoice-counter-${year}`;
}

/** MM-2026-000042: the year, then the sequence on six digits. */
export function formatInvoiceNumber(year: number, sequence: number): string {
  return `MM-${year}-${String(sequence).padStart(6, '0')}`;
}

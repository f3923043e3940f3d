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
  /** The numbers the payments asked about already took. */
  allocated: ReadonlyMap<string, number>;
}

export interface AllocateInvoiceNumbers {
  type: 'AllocateInvoiceNumbers';
  year: number;
  /** In the order the numbers are to be given. */
  paymentIds: readonly string[];
}

/** The next numbers, in order, for the payments that have none yet (each payment once). */
export function decideAllocation(
  command: AllocateInvoiceNumbers,
  counter: CounterView,
): InvoiceNumberAllocated[] {
  const events: InvoiceNumberAllocated[] = [];
  const given = new Set<string>();
  let sequence = counter.lastSequence;
  for (const paymentId of command.paymentIds) {
    if (counter.allocated.has(paymentId) || given.has(paymentId)) continue;
    given.add(paymentId);
    sequence += 1;
    events.push({
      type: 'payment.invoice-number-allocated',
      data: { year: command.year, sequence, paymentId },
    });
  }
  return events;
}

export function invoiceCounterStreamId(year: number): string {
  return `invoice-counter-${year}`;
}

/** MM-2026-000042: the year, then the sequence on six digits. */
export function formatInvoiceNumber(year: number, sequence: number): string {
  return `MM-${year}-${String(sequence).padStart(6, '0')}`;
}

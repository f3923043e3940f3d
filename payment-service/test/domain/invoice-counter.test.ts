import { randomUUID } from 'node:crypto';
import { decideAllocation, formatInvoiceNumber } from '../../src/domain/invoice-counter';

describe('invoice counter', () => {
  const paymentId = randomUUID();
  const allocate = { type: 'AllocateInvoiceNumber' as const, year: 2026, paymentId };

  test('when a payment has no number yet, then it takes the one after the last', () => {
    expect(decideAllocation(allocate, { lastSequence: 41, allocatedToPayment: null })).toEqual([
      {
        type: 'payment.invoice-number-allocated',
        data: { year: 2026, sequence: 42, paymentId },
      },
    ]);
    expect(
      decideAllocation(allocate, { lastSequence: 0, allocatedToPayment: null })[0]!.data.sequence,
    ).toBe(1);
  });

  test('when the payment already took a number, then it takes no other', () => {
    expect(decideAllocation(allocate, { lastSequence: 50, allocatedToPayment: 42 })).toEqual([]);
  });

  test('numbers read MM-<year>-<six digits>', () => {
    expect(formatInvoiceNumber(2026, 42)).toBe('MM-2026-000042');
    expect(formatInvoiceNumber(2027, 1)).toBe('MM-2027-000001');
  });
});

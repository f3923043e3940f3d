import { randomUUID } from 'node:crypto';
import { decideAllocation, formatInvoiceNumber } from '../../src/domain/invoice-counter';

describe('invoice counter', () => {
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  const allocate = (...paymentIds: string[]) => ({
    type: 'AllocateInvoiceNumbers' as const,
    year: 2026,
    paymentIds,
  });
  const allocated = (paymentId: string, sequence: number) => ({
    type: 'payment.invoice-number-allocated',
    data: { year: 2026, sequence, paymentId },
  });

  test('when payments have no number yet, then they take the next ones, in order', () => {
    expect(decideAllocation(allocate(a, b), { lastSequence: 41, allocated: new Map() })).toEqual([
      allocated(a, 42),
      allocated(b, 43),
    ]);
    expect(decideAllocation(allocate(a), { lastSequence: 0, allocated: new Map() })).toEqual([
      allocated(a, 1),
    ]);
  });

  test('when a payment already took a number, or is named twice, then it takes no other', () => {
    expect(
      decideAllocation(allocate(a, b, a, c), { lastSequence: 50, allocated: new Map([[b, 42]]) }),
    ).toEqual([allocated(a, 51), allocated(c, 52)]);
    expect(
      decideAllocation(allocate(b), { lastSequence: 50, allocated: new Map([[b, 42]]) }),
    ).toEqual([]);
  });

  test('numbers read MM-<year>-<six digits>', () => {
    expect(formatInvoiceNumber(2026, 42)).toBe('MM-2026-000042');
    expect(formatInvoiceNumber(2027, 1)).toBe('MM-2027-000001');
  });
});

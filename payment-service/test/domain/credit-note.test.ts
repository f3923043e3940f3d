import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { type PaymentEvent } from '../../src/domain/payment';
import { paymentDecider } from '../../src/domain/payment-decide';
import { decideAllocation, formatCreditNoteNumber } from '../../src/domain/invoice-counter';

const spec = deciderSpec(paymentDecider);
const NOW = '2026-03-01T12:00:00.000Z';
const LATER = '2026-03-05T09:00:00.000Z';
const paymentId = randomUUID();
const userId = randomUUID();
const operatorId = randomUUID();
const buyer = {
  name: 'Ассистент 日本 Zoë SARL',
  addressLines: ['12 rue de l’Exemple', '75002 Paris'],
  country: 'FR',
  taxId: null,
};

const created: PaymentEvent = {
  type: 'payment.created',
  data: {
    paymentId,
    userId,
    plan: 'starter',
    priceAmount: 49,
    priceCurrency: 'usd',
    payCurrency: 'btc',
    payAmount: 0.0008,
    payAddress: 'bc1qtest',
    payinExtraId: null,
    providerPaymentId: '5077125051',
    expiresAt: null,
    agent: { name: 'Ассистент 日本 Zoë', instructions: 'Answer from the docs' },
    autoDeploy: true,
    createdAt: NOW,
  },
};
const paid: PaymentEvent[] = [
  created,
  {
    type: 'payment.status-changed',
    data: {
      paymentId,
      userId,
      from: 'waiting',
      to: 'finished',
      actuallyPaid: 0.0008,
      changedAt: NOW,
    },
  },
  {
    type: 'payment.confirmed',
    data: {
      paymentId,
      userId,
      plan: 'starter',
      priceAmount: 49,
      priceCurrency: 'usd',
      payCurrency: 'btc',
      actuallyPaid: 0.0008,
      agent: { name: 'Ассистент 日本 Zoë', instructions: 'Answer from the docs' },
      autoDeploy: true,
      confirmedAt: NOW,
    },
  },
];
const invoiced: PaymentEvent = {
  type: 'payment.invoice-issued',
  data: {
    paymentId,
    userId,
    invoiceNumber: 'MM-2026-000007',
    amount: 49,
    currency: 'usd',
    plan: 'starter',
    buyer,
    issuedAt: NOW,
  },
};
const requested: PaymentEvent = {
  type: 'payment.refund-requested',
  data: {
    paymentId,
    userId,
    reason: 'The agent could not be deployed',
    requestedBy: 'system',
    operatorId: null,
    requestedAt: NOW,
  },
};
const completed: PaymentEvent = {
  type: 'payment.refund-completed',
  data: { paymentId, userId, reference: 'PAYOUT-42', operatorId, completedAt: LATER },
};
const refunded = [...paid, invoiced, requested, completed];
const issue = {
  type: 'IssueCreditNote' as const,
  creditNoteNumber: 'MM-CN-2026-000001',
  now: LATER,
};
const issued: PaymentEvent = {
  type: 'payment.credit-note-issued',
  data: {
    paymentId,
    userId,
    creditNoteNumber: 'MM-CN-2026-000001',
    invoiceNumber: 'MM-2026-000007',
    amount: -49,
    currency: 'usd',
    plan: 'starter',
    reason: 'The agent could not be deployed',
    refundReference: 'PAYOUT-42',
    buyer,
    issuedAt: LATER,
  },
};

describe('payment decider: credit notes', () => {
  test('when a completed refund is credited, then the credit note references the invoice, prints its buyer and negates its amount', () => {
    spec.given(refunded).when(issue).then([issued]);
    spec
      .given(refunded)
      .when(issue)
      .thenState((state) =>
        expect(state.exists && state.creditNoteNumber).toBe('MM-CN-2026-000001'),
      );
  });

  test('when the buyer changes their details after the invoice, then the credit note still prints the invoice’s buyer', () => {
    // The payment's history only knows the invoice's copy: nothing else can reach the note.
    spec
      .given(refunded)
      .when(issue)
      .thenState((state) => expect(state.exists && state.invoiceBuyer).toEqual(buyer));
  });

  test('when the same number comes again (a redelivery, a retry), then nothing happens; another number is refused', () => {
    spec
      .given([...refunded, issued])
      .when(issue)
      .thenNothingHappens();
    spec
      .given([...refunded, issued])
      .when({ ...issue, creditNoteNumber: 'MM-CN-2026-000002' })
      .thenFails('credit-note-already-issued');
  });

  test('when the refund is only requested, or the payment was never invoiced, then refused', () => {
    spec
      .given([...paid, invoiced, requested])
      .when(issue)
      .thenFails('refund-not-completed');
    spec
      .given([...paid, requested, completed])
      .when(issue)
      .thenFails('invoice-not-issued');
    spec.given([]).when(issue).thenFails('payment-not-found');
  });

  test('when credit-note numbers are allocated, then they run in their own series and read MM-CN-<year>-<six digits>', () => {
    const [a, b] = [randomUUID(), randomUUID()];
    expect(
      decideAllocation(
        {
          type: 'AllocateInvoiceNumbers',
          series: 'credit-note',
          year: 2026,
          paymentIds: [a, b, a],
        },
        { lastSequence: 6, allocated: new Map() },
      ),
    ).toEqual([
      {
        type: 'payment.credit-note-number-allocated',
        data: { year: 2026, sequence: 7, paymentId: a },
      },
      {
        type: 'payment.credit-note-number-allocated',
        data: { year: 2026, sequence: 8, paymentId: b },
      },
    ]);
    expect(formatCreditNoteNumber(2026, 7)).toBe('MM-CN-2026-000007');
  });
});

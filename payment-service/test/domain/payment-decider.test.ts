import { randomUUID } from 'node:crypto';
import { type PaymentStatus } from '@meetmatt/contracts';
import { deciderSpec } from '@meetmatt/infra/testing';
import { type PaymentEvent, movesForward } from '../../src/domain/payment';
import {
  type PaymentCommand,
  type ProviderReport,
  paymentDecider,
} from '../../src/domain/payment-decide';

const spec = deciderSpec(paymentDecider);
const NOW = '2026-03-01T12:00:00.000Z';
const paymentId = randomUUID();
const userId = randomUUID();
const operatorId = randomUUID();
const agent = { name: 'Support bot', instructions: 'Answer from the docs' };

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
    agent,
    autoDeploy: true,
    maxAcuLimit: 10,
    createdAt: NOW,
  },
};

function report(status: string, overrides: Partial<ProviderReport> = {}): ProviderReport {
  return {
    providerPaymentId: '5077125051',
    providerStatus: status,
    actuallyPaid: status === 'waiting' ? 0 : 0.0008,
    outcomeAmount: 0.000796,
    source: 'webhook',
    fingerprint: `fp-${status}`,
    ...overrides,
  };
}

const record = (r: ProviderReport): PaymentCommand => ({
  type: 'RecordProviderReport',
  report: r,
  now: NOW,
});

function evidence(r: ProviderReport): PaymentEvent {
  return {
    type: 'payment.ipn-received',
    data: {
      paymentId,
      providerPaymentId: r.providerPaymentId,
      providerStatus: r.providerStatus,
      actuallyPaid: r.actuallyPaid,
      outcomeAmount: r.outcomeAmount,
      source: r.source,
      fingerprint: r.fingerprint,
      receivedAt: NOW,
    },
  };
}

function moved(from: PaymentStatus, to: PaymentStatus, source = 'webhook' as const): PaymentEvent {
  return {
    type: 'payment.status-changed',
    data: {
      paymentId,
      userId,
      from,
      to,
      source,
      providerStatus: to,
      actuallyPaid: 0.0008,
      changedAt: NOW,
    },
  };
}

/** The events of a report that moved the payment from `from` to `to`. */
function reported(from: PaymentStatus, to: PaymentStatus): PaymentEvent[] {
  return [evidence(report(to)), moved(from, to)];
}

const confirmedEvent: PaymentEvent = {
  type: 'payment.confirmed',
  data: {
    paymentId,
    userId,
    plan: 'starter',
    priceAmount: 49,
    priceCurrency: 'usd',
    payCurrency: 'btc',
    actuallyPaid: 0.0008,
    agent,
    autoDeploy: true,
    maxAcuLimit: 10,
    confirmedAt: NOW,
  },
};

const finishedHistory = [created, ...reported('waiting', 'finished'), confirmedEvent];

describe('payment decider', () => {
  describe('provider reports', () => {
    test('when a status is reported on a waiting payment, then it is recorded and the payment moves', () => {
      spec
        .given([created])
        .when(record(report('confirming')))
        .then(reported('waiting', 'confirming'));
    });

    test('when finished is reported, then the payment is confirmed with what the brain needs', () => {
      spec
        .given([created, ...reported('waiting', 'sending')])
        .when(record(report('finished')))
        .then([...reported('sending', 'finished'), confirmedEvent]);
    });

    test('when the same report comes again, then nothing happens', () => {
      spec
        .given([created, ...reported('waiting', 'confirming')])
        .when(record(report('confirming')))
        .thenNothingHappens();
    });

    test('when an earlier status arrives late, then it is recorded as evidence and the payment does not move back', () => {
      spec
        .given(finishedHistory)
        .when(record(report('confirming')))
        .then([evidence(report('confirming'))]);
      spec
        .given([created, ...reported('waiting', 'sending')])
        .when(record(report('confirmed')))
        .then([evidence(report('confirmed'))]);
    });

    test('when a status we do not know is reported, then it is recorded and changes nothing', () => {
      spec
        .given([created])
        .when(record(report('on_hold')))
        .then([evidence(report('on_hold'))]);
    });

    test('when the report concerns another NOWPayments payment (a repeat deposit), then it is recorded and ignored', () => {
      const other = report('finished', { providerPaymentId: '42', fingerprint: 'fp-other' });
      spec
        .given([created])
        .when(record(other))
        .then([evidence(other)]);
    });

    test.each([
      ['partially_paid', 'payment.partially-paid'],
      ['failed', 'payment.failed'],
      ['expired', 'payment.expired'],
      ['cancelled', 'payment.failed'],
      ['refunded', 'payment.refunded'],
    ] as const)('when %s is reported, then %s follows the status change', (status, type) => {
      spec
        .given([created])
        .when(record(report(status)))
        .thenState((state) => expect(state.exists && state.status).toBe(status));
      const events = paymentDecider.decide(
        record(report(status)),
        [created].reduce(paymentDecider.evolve, paymentDecider.initialState()),
      ) as PaymentEvent[];
      expect(events.map((e) => e.type)).toEqual([
        'payment.ipn-received',
        'payment.status-changed',
        type,
      ]);
    });

    test('when a final payment is reported refunded by NOWPayments, then it moves; any other status does not', () => {
      spec
        .given(finishedHistory)
        .when(record(report('refunded')))
        .thenState((state) => expect(state.exists && state.status).toBe('refunded'));
      spec
        .given(finishedHistory)
        .when(record(report('failed')))
        .then([evidence(report('failed'))]);
    });

    test('when there is no such payment, then the report is refused as not found', () => {
      spec
        .given([])
        .when(record(report('finished')))
        .thenFails('payment-not-found');
    });

    test('the ranking only ever moves forward', () => {
      const order: PaymentStatus[] = ['waiting', 'confirming', 'confirmed', 'sending', 'finished'];
      order.forEach((from, i) =>
        order.forEach((to, j) =>
          expect([from, to, movesForward(from, to)]).toEqual([from, to, j > i]),
        ),
      );
    });
  });

  describe('invoices', () => {
    const issue: PaymentCommand = {
      type: 'IssueInvoice',
      invoiceNumber: 'MM-2026-000007',
      now: NOW,
    };
    const issued: PaymentEvent = {
      type: 'payment.invoice-issued',
      data: {
        paymentId,
        userId,
        invoiceNumber: 'MM-2026-000007',
        amount: 49,
        currency: 'usd',
        plan: 'starter',
        issuedAt: NOW,
      },
    };

    test('when a confirmed payment is invoiced, then the invoice is issued; again with the same number, nothing', () => {
      spec.given(finishedHistory).when(issue).then([issued]);
      spec
        .given([...finishedHistory, issued])
        .when(issue)
        .thenNothingHappens();
    });

    test('when another number is offered for an invoiced payment, or the payment is not confirmed, then refused', () => {
      spec
        .given([...finishedHistory, issued])
        .when({ ...issue, invoiceNumber: 'MM-2026-000008' })
        .thenFails('invoice-already-issued');
      spec.given([created]).when(issue).thenFails('payment-not-confirmed');
    });
  });

  describe('refunds', () => {
    const byOperator: PaymentCommand = {
      type: 'RequestRefund',
      reason: 'Goodwill',
      requestedBy: 'operator',
      operatorId,
      now: NOW,
    };
    const bySystem: PaymentCommand = {
      type: 'RequestRefund',
      reason: 'The agent could not be deployed',
      requestedBy: 'system',
      operatorId: null,
      now: NOW,
    };
    const requested: PaymentEvent = {
      type: 'payment.refund-requested',
      data: {
        paymentId,
        userId,
        reason: 'Goodwill',
        requestedBy: 'operator',
        operatorId,
        requestedAt: NOW,
      },
    };
    const completeCommand: PaymentCommand = {
      type: 'CompleteRefund',
      reference: 'PAYOUT-1',
      operatorId,
      now: NOW,
    };

    test('when a paid payment is refunded, then requested then completed', () => {
      spec.given(finishedHistory).when(byOperator).then([requested]);
      spec
        .given([...finishedHistory, requested])
        .when(completeCommand)
        .then([
          {
            type: 'payment.refund-completed',
            data: { paymentId, userId, reference: 'PAYOUT-1', operatorId, completedAt: NOW },
          },
        ]);
    });

    test('when the system asks again, then nothing; when an operator asks again, then refused', () => {
      spec
        .given([...finishedHistory, requested])
        .when(bySystem)
        .thenNothingHappens();
      spec
        .given([...finishedHistory, requested])
        .when(byOperator)
        .thenFails('refund-already-requested');
    });

    test('when nothing was paid, or nothing was requested, then refused', () => {
      spec.given([created]).when(byOperator).thenFails('payment-not-paid');
      spec.given(finishedHistory).when(completeCommand).thenFails('refund-not-requested');
    });
  });
});

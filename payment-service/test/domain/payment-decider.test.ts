import { randomUUID } from 'node:crypto';
import { type PaymentStatus } from '@meetmatt/contracts';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
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
    parentProviderPaymentId: null,
    payCurrency: 'btc',
    payAmount: 0.0008,
    priceAmount: 49,
    priceCurrency: 'usd',
    source: 'webhook',
    fingerprint: `fp-${status}`,
    ...overrides,
  };
}

const TOLERANCE = 0.005;

const record = (r: ProviderReport): PaymentCommand => ({
  type: 'RecordProviderReport',
  report: r,
  underpaymentTolerance: TOLERANCE,
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
      parentProviderPaymentId: r.parentProviderPaymentId,
      payCurrency: r.payCurrency,
      payAmount: r.payAmount,
      priceAmount: r.priceAmount,
      priceCurrency: r.priceCurrency,
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

  describe('money checks: finished confirms only the money we asked for', () => {
    const beforeFinish = [created, ...reported('waiting', 'sending')];

    function movedTo(
      to: PaymentStatus,
      actuallyPaid: number | null,
      from: PaymentStatus = 'sending',
    ) {
      return {
        type: 'payment.status-changed' as const,
        data: {
          paymentId,
          userId,
          from,
          to,
          source: 'webhook' as const,
          providerStatus: 'finished',
          actuallyPaid,
          changedAt: NOW,
        },
      };
    }

    test('when finished reports 1% of pay_amount actually paid, then the payment is underpaid with the figures, not confirmed', () => {
      const short = report('finished', { actuallyPaid: 0.000008 });
      spec
        .given(beforeFinish)
        .when(record(short))
        .then([
          evidence(short),
          movedTo('underpaid', 0.000008),
          {
            type: 'payment.underpaid',
            data: {
              paymentId,
              userId,
              payCurrency: 'btc',
              payAmount: 0.0008,
              actuallyPaid: 0.000008,
              shortfall: 0.0008 - 0.000008,
              tolerance: TOLERANCE,
              providerPaymentId: '5077125051',
              providerStatus: 'finished',
              at: NOW,
            },
          },
        ]);
    });

    test('when finished reports another coin and price_amount 0.01, then the payment is mismatched with both figures, not confirmed', () => {
      const other = report('finished', {
        payCurrency: 'usdttrc20',
        priceAmount: 0.01,
        actuallyPaid: 0.01,
      });
      spec
        .given(beforeFinish)
        .when(record(other))
        .then([
          evidence(other),
          movedTo('mismatched', 0.01),
          {
            type: 'payment.mismatched',
            data: {
              paymentId,
              userId,
              mismatches: [
                { field: 'payCurrency', expected: 'btc', actual: 'usdttrc20' },
                { field: 'priceAmount', expected: 49, actual: 0.01 },
              ],
              providerPaymentId: '5077125051',
              providerStatus: 'finished',
              at: NOW,
            },
          },
        ]);
    });

    test('when finished reports price_amount 0.01 in our coin, paid in full, then the payment is mismatched', () => {
      spec
        .given(beforeFinish)
        .when(record(report('finished', { priceAmount: 0.01 })))
        .thenState((state) => {
          expect(state.exists && state.status).toBe('mismatched');
          expect(state.exists && state.confirmed).toBe(false);
        });
    });

    test('when finished reports another fiat currency for the price, or leaves the coin out, then the payment is mismatched', () => {
      spec
        .given(beforeFinish)
        .when(record(report('finished', { priceCurrency: 'eur' })))
        .thenState((state) => expect(state.exists && state.status).toBe('mismatched'));
      spec
        .given(beforeFinish)
        .when(record(report('finished', { payCurrency: null })))
        .thenState((state) => expect(state.exists && state.status).toBe('mismatched'));
    });

    test('when what arrived is short by less than the tolerance, then the payment is confirmed; by more, underpaid', () => {
      const within = report('finished', { actuallyPaid: 0.0008 * 0.996 });
      spec
        .given(beforeFinish)
        .when(record(within))
        .then([
          evidence(within),
          movedTo('finished', 0.0008 * 0.996),
          { ...confirmedEvent, data: { ...confirmedEvent.data, actuallyPaid: 0.0008 * 0.996 } },
        ]);
      spec
        .given(beforeFinish)
        .when(record(report('finished', { actuallyPaid: 0.0008 * (1 - TOLERANCE) })))
        .thenState((state) => expect(state.exists && state.status).toBe('finished'));
      spec
        .given(beforeFinish)
        .when(record(report('finished', { actuallyPaid: 0.0008 * 0.994 })))
        .thenState((state) => expect(state.exists && state.status).toBe('underpaid'));
    });

    test('when the tolerance is zero, then only the full amount confirms', () => {
      spec
        .given(beforeFinish)
        .when({
          ...record(report('finished', { actuallyPaid: 0.0008 * 0.999 })),
          underpaymentTolerance: 0,
        } as PaymentCommand)
        .thenState((state) => expect(state.exists && state.status).toBe('underpaid'));
    });

    test('when repeat deposits (parent_payment_id ours) bring the sum to the amount, then the payment is confirmed then', () => {
      const first = report('finished', { actuallyPaid: 0.0005, fingerprint: 'fp-first' });
      const underpaid = paymentDecider.decide(
        record(first),
        beforeFinish.reduce(paymentDecider.evolve, paymentDecider.initialState()),
      ) as PaymentEvent[];
      expect(underpaid.map((e) => e.type)).toContain('payment.underpaid');
      const repeat = report('finished', {
        providerPaymentId: '5077125099',
        parentProviderPaymentId: '5077125051',
        actuallyPaid: 0.0003,
        payAmount: 0.0003,
        priceAmount: 18.38,
        fingerprint: 'fp-repeat',
      });
      spec
        .given([...beforeFinish, ...underpaid])
        .when(record(repeat))
        .then([
          evidence(repeat),
          movedTo('finished', 0.0005 + 0.0003, 'underpaid'),
          { ...confirmedEvent, data: { ...confirmedEvent.data, actuallyPaid: 0.0005 + 0.0003 } },
        ]);
    });

    test('when a repeat deposit arrives while the payment is partially paid and completes it, then the payment is confirmed', () => {
      const partial = report('partially_paid', { actuallyPaid: 0.0004 });
      const partialEvents = paymentDecider.decide(
        record(partial),
        [created].reduce(paymentDecider.evolve, paymentDecider.initialState()),
      ) as PaymentEvent[];
      const repeat = report('finished', {
        providerPaymentId: '5077125100',
        parentProviderPaymentId: '5077125051',
        actuallyPaid: 0.0004,
        fingerprint: 'fp-repeat-2',
      });
      spec
        .given([created, ...partialEvents])
        .when(record(repeat))
        .thenState((state) => {
          expect(state.exists && state.status).toBe('finished');
          expect(state.exists && state.confirmed).toBe(true);
        });
    });

    test('when repeat deposits do not reach the amount, or arrive in another coin, or are not settled, then nothing is confirmed', () => {
      const first = report('finished', { actuallyPaid: 0.0004, fingerprint: 'fp-first' });
      const given = [
        ...beforeFinish,
        ...(paymentDecider.decide(
          record(first),
          beforeFinish.reduce(paymentDecider.evolve, paymentDecider.initialState()),
        ) as PaymentEvent[]),
      ];
      const repeat = (overrides: Partial<ProviderReport>) =>
        report('finished', {
          providerPaymentId: '5077125101',
          parentProviderPaymentId: '5077125051',
          actuallyPaid: 0.0004,
          fingerprint: `fp-${JSON.stringify(overrides)}`,
          ...overrides,
        });
      for (const r of [
        repeat({ actuallyPaid: 0.0002 }),
        repeat({ payCurrency: 'eth' }),
        repeat({ providerStatus: 'confirming' }),
      ]) {
        spec
          .given(given)
          .when(record(r))
          .then([evidence(r)]);
      }
    });

    test('when an underpaid payment is later reported paid in full by NOWPayments, then it is confirmed; with a price that is not ours, it is not', () => {
      const given = [
        ...beforeFinish,
        ...(paymentDecider.decide(
          record(report('finished', { actuallyPaid: 0.0004, fingerprint: 'fp-half' })),
          beforeFinish.reduce(paymentDecider.evolve, paymentDecider.initialState()),
        ) as PaymentEvent[]),
      ];
      spec
        .given(given)
        .when(record(report('finished', { fingerprint: 'fp-full' })))
        .thenState((state) => expect(state.exists && state.confirmed).toBe(true));
      const cheap = report('finished', { priceAmount: 0.01, fingerprint: 'fp-cheap' });
      spec
        .given(given)
        .when(record(cheap))
        .then([evidence(cheap)]);
    });

    test('when a deposit names another parent, then it is recorded and adds nothing', () => {
      const stranger = report('finished', {
        providerPaymentId: '77',
        parentProviderPaymentId: '78',
        fingerprint: 'fp-stranger',
      });
      spec
        .given(beforeFinish)
        .when(record(stranger))
        .then([evidence(stranger)]);
    });

    test('when a report names one of our own statuses, then it is unknown to NOWPayments and changes nothing', () => {
      const ours = report('underpaid', { fingerprint: 'fp-ours' });
      spec
        .given(beforeFinish)
        .when(record(ours))
        .then([evidence(ours)]);
    });

    test('when an underpaid payment is invoiced, then refused; when an operator refunds it, then requested', () => {
      const given = [
        ...beforeFinish,
        ...(paymentDecider.decide(
          record(report('finished', { actuallyPaid: 0.000008 })),
          beforeFinish.reduce(paymentDecider.evolve, paymentDecider.initialState()),
        ) as PaymentEvent[]),
      ];
      spec
        .given(given)
        .when({ type: 'IssueInvoice', invoiceNumber: 'MM-2026-000009', buyer: null, now: NOW })
        .thenFails('payment-not-confirmed');
      spec
        .given(given)
        .when({
          type: 'RequestRefund',
          reason: 'Underpaid, give back what arrived',
          requestedBy: 'operator',
          operatorId,
          now: NOW,
        })
        .thenState((state) => expect(state.exists && state.refund?.status).toBe('requested'));
    });
  });

  describe('invoices', () => {
    const buyer = {
      name: 'Ассистент 日本 Zoë SARL',
      addressLines: ['12 rue de l’Exemple', '75002 Paris'],
      country: 'FR',
      taxId: 'FR12345678901',
    };
    const issue = {
      type: 'IssueInvoice' as const,
      invoiceNumber: 'MM-2026-000007',
      buyer,
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
        buyer,
        issuedAt: NOW,
      },
    };

    test('when a confirmed payment is invoiced, then the invoice is issued with the buyer’s details; again with the same number, nothing', () => {
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

    test('when the buyer gave no details, then the invoice says so (null) and the state keeps none', () => {
      spec
        .given(finishedHistory)
        .when({ ...issue, buyer: null })
        .then([{ ...issued, data: { ...issued.data, buyer: null } }]);
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

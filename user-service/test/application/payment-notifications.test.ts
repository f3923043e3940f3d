import { randomUUID } from 'node:crypto';
import { paymentEvents } from '@meetmatt/contracts';
import { consumedPaymentEvents, notificationContent } from '../../src/application/bus-events';

/** What the customer is told when payment-service does not accept what NOWPayments reported. */
describe('user-service: notifications of payments not accepted', () => {
  const userId = randomUUID();
  const paymentId = randomUUID();
  const consumed = { id: randomUUID(), time: '2026-12-02T06:00:00.000Z', correlationId: 'c' };

  test('when payment-service records a payment as underpaid, then the user-service consumes it and tells the customer what arrived and what is missing', () => {
    expect(consumedPaymentEvents.map((e) => e.type)).toContain(paymentEvents.underpaid.type);
    const content = notificationContent({
      ...consumed,
      type: 'payment.underpaid',
      data: {
        paymentId,
        userId,
        payCurrency: 'btc',
        payAmount: 0.0008,
        actuallyPaid: 0.000008,
        shortfall: 0.000792,
        tolerance: 0.005,
        providerPaymentId: '5077125051',
        providerStatus: 'finished',
        at: consumed.time,
      },
    } as Parameters<typeof notificationContent>[0]);
    expect(content).toEqual({
      kind: 'payment.partially-paid',
      userId,
      title: 'Payment incomplete',
      body: expect.stringMatching(
        /received 0\.000008 of the 0\.0008 BTC.*not confirmed.*0\.000792 BTC/,
      ),
      link: `/payments/${paymentId}`,
    });
  });

  test('when payment-service records a payment as mismatched, then the customer is told it was not accepted and why', () => {
    expect(consumedPaymentEvents.map((e) => e.type)).toContain(paymentEvents.mismatched.type);
    const content = notificationContent({
      ...consumed,
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
        at: consumed.time,
      },
    } as Parameters<typeof notificationContent>[0]);
    expect(content).toMatchObject({
      kind: 'payment.failed',
      userId,
      title: 'Payment not accepted',
      body: expect.stringMatching(/payCurrency, priceAmount/),
    });
  });
});

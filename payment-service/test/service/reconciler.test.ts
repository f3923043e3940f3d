import { randomUUID } from 'node:crypto';
import { paymentEventTypes } from '@meetmatt/contracts';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import {
  type PaymentDetail,
  type PaymentHarness,
  historyOf,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';

/** The periodic rounds leave younger payments alone (to the rounds run by hand). */
const MIN_AGE_MS = 3_000;

describe('payment-service: reconciliation with NOWPayments', () => {
  let h: PaymentHarness;
  let user: TestUser;

  beforeAll(async () => {
    h = await startPaymentHarness({
      env: { RECONCILER_INTERVAL_MS: '100', RECONCILER_MIN_AGE_MS: String(MIN_AGE_MS) },
    });
    user = await h.user();
  });

  afterAll(async () => {
    await h?.stop();
  });

  async function open(...markers: string[]) {
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(paymentRequest(scenario(...markers)));
    expect(res.status).toBe(201);
    return res.body as { id: string; providerPaymentId: string };
  }

  const detail = async (id: string) =>
    (await h.api().get(`/payments/${id}`).set('Authorization', user.authorization))
      .body as PaymentDetail;

  test('when the webhook of the final status is lost, then the periodic reconciler finishes the payment', async () => {
    const payment = await open('paid', 'lost-ipn');
    await eventually('the confirming and confirmed IPNs to be delivered', () => {
      const deliveries = h.sandbox.deliveries({ orderId: payment.id });
      expect(deliveries.map((d) => [d.status, d.state])).toEqual([
        ['confirming', 'delivered'],
        ['confirmed', 'delivered'],
        ['sending', 'delivered'],
        ['finished', 'dropped'],
      ]);
    });

    await eventually(
      'the reconciler to record the payment finished',
      async () => {
        const read = await detail(payment.id);
        expect(read.status).toBe('finished');
        expect(read.history.at(-1)).toMatchObject({
          status: 'finished',
          providerStatus: 'finished',
          source: 'reconciler',
        });
      },
      15_000,
    );
    expect(historyOf(await detail(payment.id))).toEqual([
      'waiting',
      'confirming',
      'confirmed',
      'sending',
      'finished',
    ]);
    expect(
      h.sandbox
        .calls()
        .filter((c) => c.method === 'GET' && c.path === `/v1/payment/${payment.providerPaymentId}`),
    ).not.toEqual([]);
    await eventually('one payment.confirmed on the bus', () =>
      expect(
        h.bus
          .ofType(paymentEventTypes.confirmed)
          .filter((e) => e.subject === `payment-${payment.id}`),
      ).toHaveLength(1),
    );
    // the sale is invoiced like any other
    await eventually("the payment's invoice number", async () =>
      expect((await detail(payment.id)).invoiceNumber).not.toBeNull(),
    );
  });

  test('when a round is run by hand, then it applies what NOWPayments says (expired) and returns what changed', async () => {
    const payment = await open('manual', 'lost-ipn');
    // NOWPayments gives up on the deposit, and the IPN saying so is lost
    h.sandbox.setStatus(payment.providerPaymentId, 'expired');
    expect(h.sandbox.deliveries({ orderId: payment.id })).toEqual([
      expect.objectContaining({ status: 'expired', state: 'dropped' }),
    ]);
    // too young for a round that only looks at payments older than a minute
    const early = await h.service.reconcileOnce({ olderThanMs: 60_000 });
    expect(early.changed.map((c) => c.paymentId)).not.toContain(payment.id);

    const round = await h.service.reconcileOnce({ olderThanMs: 0 });

    expect(round.changed).toEqual(
      expect.arrayContaining([{ paymentId: payment.id, from: 'waiting', to: 'expired' }]),
    );
    await eventually('the payment to read expired', async () =>
      expect((await detail(payment.id)).status).toBe('expired'),
    );
    await eventually('one payment.expired on the bus', () =>
      expect(
        h.bus
          .ofType(paymentEventTypes.expired)
          .filter((e) => e.subject === `payment-${payment.id}`),
      ).toHaveLength(1),
    );
    // asking again about a payment that has not moved records nothing more
    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    await h.service.reconcileOnce({ olderThanMs: 0 });
    expect(await h.service.host.eventStore.readStream(`payment-${payment.id}`)).toHaveLength(
      stream.length,
    );
  });

  test('when NOWPayments does not know a payment, then the round reports it as failed and carries on', async () => {
    const paymentId = randomUUID();
    await h.service.host.eventStore.appendToStream(
      `payment-${paymentId}`,
      [
        h.service.invoices.catalog.toNew(
          {
            type: paymentEventTypes.created,
            data: {
              paymentId,
              userId: user.userId,
              plan: 'starter',
              priceAmount: 49,
              priceCurrency: 'usd',
              payCurrency: 'btc',
              payAmount: 0.001,
              payAddress: 'bc1qunknown',
              payinExtraId: null,
              providerPaymentId: '999',
              expiresAt: null,
              agent: { name: 'Ghost', instructions: 'Nothing' },
              autoDeploy: true,
              createdAt: new Date(Date.now() - 60_000).toISOString(),
            },
          },
          { correlationId: randomUUID(), causationId: randomUUID() },
        ),
      ],
      { expectedRevision: 'no_stream' },
    );
    await eventually('the payment to read waiting', async () =>
      expect((await detail(paymentId)).status).toBe('waiting'),
    );

    const round = await h.service.reconcileOnce({ olderThanMs: 0 });

    expect(round.failed).toEqual(
      expect.arrayContaining([{ paymentId, error: expect.stringMatching(/404/) }]),
    );
    expect(round.examined).toBeGreaterThanOrEqual(1);
  });
});

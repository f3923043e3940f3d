import { eventually } from '@meetmatt/infra/testing';
import { paymentEventTypes } from '@meetmatt/contracts';
import {
  type PaymentDetail,
  type PaymentHarness,
  historyOf,
  paymentRequest,
  startPaymentHarness,
} from '../support/harness';

describe('payment-service: the paid path, end to end', () => {
  let h: PaymentHarness;

  beforeAll(async () => {
    h = await startPaymentHarness();
  });

  afterAll(async () => {
    await h?.stop();
  });

  test('when a user pays in full, then the payment is finished, payment.confirmed is on the bus and an invoice is issued', async () => {
    const user = await h.user();
    const body = paymentRequest();

    const created = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(body);

    // the HTTP answer: the price comes from the catalogue, the rest from NOWPayments
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      status: 'waiting',
      plan: 'starter',
      priceAmount: 49,
      priceCurrency: 'usd',
      payCurrency: 'btc',
      payAmount: expect.any(Number),
      payAddress: expect.any(String),
      payinExtraId: null,
      providerPaymentId: expect.stringMatching(/^\d+$/),
      expiresAt: expect.any(String),
      createdAt: expect.any(String),
    });
    const paymentId = created.body.id as string;

    // the call made to NOWPayments: our id as order_id, our webhook as ipn_callback_url
    const calls = h.sandbox.calls().filter((c) => c.path === '/v1/payment');
    expect(calls).toEqual([
      expect.objectContaining({
        method: 'POST',
        apiKey: 'valid',
        status: 201,
        body: expect.objectContaining({
          order_id: paymentId,
          price_amount: 49,
          price_currency: 'usd',
          pay_currency: 'btc',
          ipn_callback_url: `${h.service.url}/webhooks/nowpayments`,
        }),
      }),
    ]);

    // the state read back: finished, with the history of the way there
    await eventually('the payment status to read finished', async () => {
      const status = await h
        .api()
        .get(`/payments/${paymentId}/status`)
        .set('Authorization', user.authorization);
      expect(status.body).toMatchObject({ id: paymentId, status: 'finished' });
    });
    const detail = await h
      .api()
      .get(`/payments/${paymentId}`)
      .set('Authorization', user.authorization);
    expect(detail.status).toBe(200);
    expect(historyOf(detail.body)).toEqual([
      'waiting',
      'confirming',
      'confirmed',
      'sending',
      'finished',
    ]);
    expect((detail.body as PaymentDetail).history.slice(1)).toEqual(
      ['confirming', 'confirmed', 'sending', 'finished'].map((status): unknown =>
        expect.objectContaining({ status, providerStatus: status, source: 'webhook' }),
      ),
    );
    expect(detail.body.actuallyPaid).toBe(created.body.payAmount);

    // the messages published: payment.confirmed carries what the brain needs to deploy
    await eventually('one payment.confirmed on the bus', () =>
      expect(h.bus.ofType(paymentEventTypes.confirmed)).toHaveLength(1),
    );
    const [confirmed] = h.bus.ofType(paymentEventTypes.confirmed);
    expect(confirmed).toMatchObject({
      source: 'payment-service',
      subject: `payment-${paymentId}`,
      userid: user.userId,
      data: {
        paymentId,
        userId: user.userId,
        plan: 'starter',
        priceAmount: 49,
        priceCurrency: 'usd',
        payCurrency: 'btc',
        agent: body.agent,
        autoDeploy: true,
        maxAcuLimit: 10,
      },
    });
    const forThisPayment = () =>
      h.bus.messages.filter((m) => m.event.subject === `payment-${paymentId}`);
    await eventually('payment.invoice-issued on the bus', () =>
      expect(forThisPayment().map((m) => m.routingKey)).toContain(paymentEventTypes.invoiceIssued),
    );
    expect(forThisPayment().map((m) => m.routingKey)).toEqual([
      paymentEventTypes.created,
      paymentEventTypes.statusChanged,
      paymentEventTypes.statusChanged,
      paymentEventTypes.statusChanged,
      paymentEventTypes.statusChanged,
      paymentEventTypes.confirmed,
      paymentEventTypes.invoiceIssued,
    ]);
    // internal evidence never leaves the service
    expect(h.bus.ofType(paymentEventTypes.ipnReceived)).toEqual([]);
    expect(h.bus.ofType(paymentEventTypes.invoiceNumberAllocated)).toEqual([]);

    // every IPN was answered 200, well inside NOWPayments' 3 seconds
    const deliveries = h.sandbox.deliveries({ orderId: paymentId });
    expect(deliveries.map((d) => d.status)).toEqual([
      'confirming',
      'confirmed',
      'sending',
      'finished',
    ]);
    for (const delivery of deliveries) {
      expect(delivery.attempts).toEqual([
        expect.objectContaining({ statusCode: 200, durationMs: expect.any(Number) }),
      ]);
      expect(delivery.attempts[0]!.durationMs).toBeLessThan(1_000);
    }

    // the invoice
    const invoice = await eventually('the invoice to be readable', async () => {
      const res = await h
        .api()
        .get(`/payments/${paymentId}/invoice`)
        .set('Authorization', user.authorization);
      expect(res.status).toBe(200);
      return res;
    });
    expect(invoice.body).toMatchObject({
      number: expect.stringMatching(new RegExp(`^MM-${new Date().getUTCFullYear()}-\\d{6}$`)),
      paymentId,
      userId: user.userId,
      amount: 49,
      currency: 'usd',
      paidWith: { currency: 'btc', amount: created.body.payAmount },
      seller: { name: 'Meet Matt', address: expect.any(String) },
    });

    // what was counted
    const metrics = await h.api().get('/metrics');
    expect(metrics.text).toMatch(/payment_ipn_total\{[^}]*outcome="moved"[^}]*\} 4/);

    // what was logged: the moves, and never the key or the IPN secret
    expect(h.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ message: 'payment opened', paymentId }),
        expect.objectContaining({ message: 'payment moved', paymentId, to: 'finished' }),
        expect.objectContaining({ message: 'invoice issued', paymentId }),
      ]),
    );
    expect(h.logText()).not.toContain(h.service.config.NOWPAYMENTS_API_KEY);
    expect(h.logText()).not.toContain(h.service.config.NOWPAYMENTS_IPN_SECRET);
  });

  test('when the catalogue is asked for, then it lists the plans with their server-side prices', async () => {
    const res = await h.api().get('/payments/plans');
    expect(res.status).toBe(200);
    expect((res.body as { plans: { id: string }[] }).plans.map((p) => p.id)).toEqual([
      'starter',
      'pro',
      'enterprise',
    ]);
    expect(res.body.plans[0]).toMatchObject({
      id: 'starter',
      priceAmount: 49,
      priceCurrency: 'usd',
    });
  });
});

import { paymentEventTypes } from '@meetmatt/contracts';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import {
  IPN_SECRET,
  type PaymentDetail,
  type PaymentHarness,
  historyOf,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';
import { type PaymentRef, ipnBody, sign } from '../support/ipn';

/**
 * Issue 14, part 1: a signed IPN proves NOWPayments sent it, not that we were paid. Through real
 * HTTP, a real database and broker, with the NOWPayments sandbox: what is not the money we asked
 * for is recorded as what it is, and issues no invoice and publishes no payment.confirmed.
 */
describe('payment-service: only the money we asked for confirms a payment', () => {
  let h: PaymentHarness;
  let user: TestUser;

  beforeAll(async () => {
    h = await startPaymentHarness();
    user = await h.user();
  });

  afterAll(async () => {
    await h?.stop();
  });

  async function openPayment(...markers: string[]): Promise<PaymentRef & { payCurrency: string }> {
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(paymentRequest(scenario(...(markers.length ? markers : ['manual']))));
    expect(res.status).toBe(201);
    return res.body as PaymentRef & { payCurrency: string };
  }

  const postIpn = (body: Record<string, unknown>) =>
    h
      .api()
      .post('/webhooks/nowpayments')
      .set('Content-Type', 'application/json')
      .set('x-nowpayments-sig', sign(body, IPN_SECRET))
      .send(JSON.stringify(body));

  const detail = async (paymentId: string, who: TestUser = user): Promise<PaymentDetail> => {
    const res = await h.api().get(`/payments/${paymentId}`).set('Authorization', who.authorization);
    expect(res.status).toBe(200);
    return res.body as PaymentDetail;
  };

  const streamTypes = async (paymentId: string) =>
    (await h.service.host.eventStore.readStream(`payment-${paymentId}`)).map((e) => e.type);

  const published = (type: string, paymentId: string) =>
    h.bus.ofType(type).filter((e) => (e.data as { paymentId?: string }).paymentId === paymentId);

  /** Gives the relay and the invoice policy time to act on anything they would act on. */
  const settle = async (paymentId: string) =>
    eventually('one payment.statusChanged published', () =>
      expect(published(paymentEventTypes.statusChanged, paymentId).length).toBe(1),
    );

  test('when a signed finished IPN reports 1% of pay_amount, then the payment is underpaid with its figures, no invoice is issued and payment.confirmed is not published', async () => {
    const payment = await openPayment();
    const ipn = ipnBody(payment, 'finished', { actually_paid: payment.payAmount * 0.01 });

    expect((await postIpn(ipn)).status).toBe(200);

    await eventually('the payment to read underpaid', async () =>
      expect((await detail(payment.id)).status).toBe('underpaid'),
    );
    const read = await detail(payment.id);
    expect(read).toMatchObject({
      status: 'underpaid',
      invoiceNumber: null,
      discrepancy: {
        kind: 'underpaid',
        figures: expect.arrayContaining([
          { field: 'actuallyPaid', expected: payment.payAmount, actual: payment.payAmount * 0.01 },
        ]),
      },
    });
    expect(historyOf(read)).toEqual(['waiting', 'underpaid']);
    const invoice = await h
      .api()
      .get(`/payments/${payment.id}/invoice`)
      .set('Authorization', user.authorization);
    expect(invoice.status).toBe(409);
    expect(invoice.body.detail).toMatch(/underpaid/);
    await settle(payment.id);
    await eventually('one payment.underpaid published', () =>
      expect(published('payment.underpaid', payment.id)).toHaveLength(1),
    );
    expect(published(paymentEventTypes.confirmed, payment.id)).toEqual([]);
    expect(await streamTypes(payment.id)).not.toContain(paymentEventTypes.confirmed);
    expect(await streamTypes(payment.id)).not.toContain(paymentEventTypes.invoiceIssued);
  });

  test('when a signed finished IPN reports another coin and price_amount 0.01, then the payment is mismatched with both figures and nothing is confirmed', async () => {
    const payment = await openPayment();
    const ipn = ipnBody(payment, 'finished', {
      pay_currency: 'usdttrc20',
      price_amount: 0.01,
      actually_paid: 0.01,
    });

    expect((await postIpn(ipn)).status).toBe(200);

    await eventually('the payment to read mismatched', async () =>
      expect((await detail(payment.id)).status).toBe('mismatched'),
    );
    expect((await detail(payment.id)).discrepancy).toMatchObject({
      kind: 'mismatched',
      figures: [
        { field: 'payCurrency', expected: 'btc', actual: 'usdttrc20' },
        { field: 'priceAmount', expected: 49, actual: 0.01 },
      ],
    });
    await settle(payment.id);
    await eventually('one payment.mismatched published', () =>
      expect(published('payment.mismatched', payment.id)).toHaveLength(1),
    );
    expect(published(paymentEventTypes.confirmed, payment.id)).toEqual([]);
    expect(await streamTypes(payment.id)).not.toContain(paymentEventTypes.invoiceIssued);
  });

  test('when what arrived is short by less than the tolerance, then the payment is confirmed and invoiced', async () => {
    const payment = await openPayment();
    const ipn = ipnBody(payment, 'finished', { actually_paid: payment.payAmount * 0.997 });

    expect((await postIpn(ipn)).status).toBe(200);

    await eventually("the payment's invoice number", async () =>
      expect((await detail(payment.id)).invoiceNumber).toMatch(/^MM-\d{4}-\d{6}$/),
    );
    expect((await detail(payment.id)).status).toBe('finished');
    await eventually('one payment.confirmed published', () =>
      expect(published(paymentEventTypes.confirmed, payment.id)).toHaveLength(1),
    );
  });

  test('when the sandbox plays a finished payment with 1% paid, then it ends underpaid', async () => {
    const payment = await openPayment('underpaid');
    await eventually('the payment to read underpaid', async () =>
      expect((await detail(payment.id)).status).toBe('underpaid'),
    );
    expect(historyOf(await detail(payment.id))).toEqual(['waiting', 'confirming', 'underpaid']);
  });

  test('when the rest of a partly paid payment arrives as a repeat deposit (parent_payment_id), then the deposits add up and the payment is confirmed once, then invoiced', async () => {
    const payment = await openPayment('split');

    await eventually("the payment's invoice number", async () =>
      expect((await detail(payment.id)).invoiceNumber).not.toBeNull(),
    );

    const read = await detail(payment.id);
    expect(historyOf(read)).toEqual(['waiting', 'confirming', 'partially_paid', 'finished']);
    expect(read.actuallyPaid).toBeCloseTo(payment.payAmount, 8);
    const deposits = h.sandbox.payments().filter((p) => p.order_id === payment.id);
    expect(deposits.map((p) => p.parent_payment_id)).toEqual([
      null,
      Number(payment.providerPaymentId),
    ]);
    await eventually('one payment.confirmed published', () =>
      expect(published(paymentEventTypes.confirmed, payment.id)).toHaveLength(1),
    );
    expect(
      (await streamTypes(payment.id)).filter((t) => t === paymentEventTypes.confirmed),
    ).toHaveLength(1);
  });

  test('when a repeat deposit’s IPN names only its parent payment, not our order, then it still counts towards our payment', async () => {
    const payment = await openPayment();
    const first = ipnBody(payment, 'finished', { actually_paid: payment.payAmount / 2 });
    expect((await postIpn(first)).status).toBe(200);
    await eventually('the payment to read underpaid', async () =>
      expect((await detail(payment.id)).status).toBe('underpaid'),
    );

    const repeat = ipnBody(payment, 'finished', {
      payment_id: Number(payment.providerPaymentId) + 17,
      parent_payment_id: Number(payment.providerPaymentId),
      order_id: null,
      pay_amount: payment.payAmount / 2,
      actually_paid: payment.payAmount / 2,
      price_amount: 24.5,
    });
    expect((await postIpn(repeat)).status).toBe(200);

    await eventually("the payment's invoice number", async () =>
      expect((await detail(payment.id)).invoiceNumber).not.toBeNull(),
    );
    expect(historyOf(await detail(payment.id))).toEqual(['waiting', 'underpaid', 'finished']);
  });

  test('when an operator lists payments by status underpaid, then the underpaid payment is there with its figures; a customer sees only their own', async () => {
    const payment = await openPayment();
    expect(
      (await postIpn(ipnBody(payment, 'finished', { actually_paid: payment.payAmount * 0.5 })))
        .status,
    ).toBe(200);
    await eventually('the payment to read underpaid', async () =>
      expect((await detail(payment.id)).status).toBe('underpaid'),
    );

    const admin = await h.admin();
    const listed = await h
      .api()
      .get('/payments?status=underpaid&limit=100')
      .set('Authorization', admin.authorization);
    expect(listed.status).toBe(200);
    const item = (listed.body.items as PaymentDetail[]).find((p) => p.id === payment.id);
    expect(item).toMatchObject({ status: 'underpaid', discrepancy: { kind: 'underpaid' } });
    const stranger = await h.user();
    const theirs = await h
      .api()
      .get('/payments?status=underpaid')
      .set('Authorization', stranger.authorization);
    expect(theirs.body.items).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
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
import { type PaymentRef, ipnBody, sign, signTopLevelOnly } from '../support/ipn';

describe('payment-service: the NOWPayments webhook', () => {
  let h: PaymentHarness;
  let user: TestUser;

  beforeAll(async () => {
    h = await startPaymentHarness();
    user = await h.user();
  });

  afterAll(async () => {
    await h?.stop();
  });

  /** A payment the sandbox leaves alone: the test plays NOWPayments itself. */
  async function openPayment(...markers: string[]): Promise<PaymentRef> {
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(paymentRequest(scenario(...(markers.length ? markers : ['manual']))));
    expect(res.status).toBe(201);
    return res.body as PaymentRef;
  }

  const post = (body: unknown, signature?: string) => {
    const req = h.api().post('/webhooks/nowpayments').set('Content-Type', 'application/json');
    if (signature !== undefined) req.set('x-nowpayments-sig', signature);
    return req.send(JSON.stringify(body));
  };

  const streamTypes = async (paymentId: string) =>
    (await h.service.host.eventStore.readStream(`payment-${paymentId}`)).map((e) => e.type);

  const statusOf = async (paymentId: string): Promise<PaymentDetail> =>
    (await h.api().get(`/payments/${paymentId}`).set('Authorization', user.authorization))
      .body as PaymentDetail;

  test('when an IPN with a nested fee object is signed over the recursively key-sorted body, then it is accepted and moves the payment', async () => {
    const payment = await openPayment();
    const body = ipnBody(payment, 'confirming');
    // the fee object arrives with its keys out of order: only a recursive sort verifies it
    expect(Object.keys(body.fee as object)).toEqual([
      'currency',
      'depositFee',
      'withdrawalFee',
      'serviceFee',
    ]);

    const res = await post(body, sign(body, IPN_SECRET));

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(await streamTypes(payment.id)).toEqual([
      paymentEventTypes.created,
      paymentEventTypes.ipnReceived,
      paymentEventTypes.statusChanged,
    ]);
    await eventually('the payment to read confirming', async () =>
      expect((await statusOf(payment.id)).status).toBe('confirming'),
    );
  });

  test('when an IPN moves a payment, then its events keep the correlation id of the payment and name the webhook request as their cause', async () => {
    const journey = `journey-${randomUUID()}`;
    const created = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .set('X-Request-Id', journey)
      .send(paymentRequest(scenario('manual')));
    expect(created.status).toBe(201);
    const payment = created.body as PaymentRef;
    const body = ipnBody(payment, 'confirming');
    const delivery = `ipn-${randomUUID()}`;

    const res = await post(body, sign(body, IPN_SECRET)).set('X-Request-Id', delivery);

    expect(res.status).toBe(200);
    const events = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    expect(events.map((e) => [e.type, e.metadata.correlationId])).toEqual([
      [paymentEventTypes.created, journey],
      [paymentEventTypes.ipnReceived, journey],
      [paymentEventTypes.statusChanged, journey],
    ]);
    expect(events.slice(1).map((e) => e.metadata.causationId)).toEqual([delivery, delivery]);
  });

  test('when an IPN is forged, unsigned, signed with a stale key or sorted only at the top, then 401 problem+json and nothing is recorded', async () => {
    const payment = await openPayment();
    const body = ipnBody(payment, 'finished');
    const tampered = { ...body, actually_paid: payment.payAmount * 2 };
    const attempts = [
      { what: 'forged (body changed after signing)', body: tampered, sig: sign(body, IPN_SECRET) },
      { what: 'missing', body, sig: undefined },
      { what: 'stale key', body, sig: sign(body, 'the-previous-ipn-secret') },
      { what: 'top-level sort only', body, sig: signTopLevelOnly(body, IPN_SECRET) },
      { what: 'not hex', body, sig: 'x'.repeat(128) },
      { what: 'empty', body, sig: '' },
    ];
    for (const attempt of attempts) {
      const res = await post(attempt.body, attempt.sig);
      expect([attempt.what, res.status]).toEqual([attempt.what, 401]);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({
        status: 401,
        detail: expect.stringMatching(/x-nowpayments-sig/),
      });
    }
    // a signed body that is not even a valid IPN is refused for its signature first
    const unsignedGarbage = await post({ hello: 'world' }, sign({ hello: 'other' }, IPN_SECRET));
    expect(unsignedGarbage.status).toBe(401);

    expect(await streamTypes(payment.id)).toEqual([paymentEventTypes.created]);
    expect((await statusOf(payment.id)).status).toBe('waiting');
    expect(h.logText()).not.toContain(IPN_SECRET);
  });

  test('when the same IPN arrives ten times, some at once, then it is recorded once and the payment moves once', async () => {
    const payment = await openPayment();
    const body = ipnBody(payment, 'finished');
    const signature = sign(body, IPN_SECRET);

    const first = await Promise.all(Array.from({ length: 5 }, () => post(body, signature)));
    const rest: { status: number }[] = [];
    for (let i = 0; i < 5; i++) rest.push(await post(body, signature));

    expect([...first, ...rest].map((r) => r.status)).toEqual(Array(10).fill(200));
    // (the invoice policy appends its invoice-issued beside, asynchronously)
    expect((await streamTypes(payment.id)).slice(0, 4)).toEqual([
      paymentEventTypes.created,
      paymentEventTypes.ipnReceived,
      paymentEventTypes.statusChanged,
      paymentEventTypes.confirmed,
    ]);
    const types = await streamTypes(payment.id);
    expect(types.filter((t) => t === paymentEventTypes.ipnReceived)).toHaveLength(1);
    expect(types.filter((t) => t === paymentEventTypes.confirmed)).toHaveLength(1);
    await eventually('one payment.confirmed on the bus', () =>
      expect(
        h.bus
          .ofType(paymentEventTypes.confirmed)
          .filter((e) => e.subject === `payment-${payment.id}`),
      ).toHaveLength(1),
    );
  });

  test('when NOWPayments delivers the statuses in reverse, then the payment goes straight to finished and the late ones are recorded and ignored', async () => {
    const payment = await openPayment('paid', 'reverse');

    await eventually('every IPN delivered', () => {
      const deliveries = h.sandbox.deliveries({ orderId: payment.id });
      expect(deliveries.map((d) => d.status)).toEqual([
        'confirming',
        'confirmed',
        'sending',
        'finished',
      ]);
      expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);
    });
    // delivered newest first
    const order = h.sandbox
      .deliveries({ orderId: payment.id })
      .sort((a, b) => a.attempts[0]!.at.localeCompare(b.attempts[0]!.at));
    expect(order[0]!.status).toBe('finished');

    const types = await streamTypes(payment.id);
    expect(types.filter((t) => t === paymentEventTypes.ipnReceived)).toHaveLength(4);
    expect(types.filter((t) => t === paymentEventTypes.statusChanged)).toHaveLength(1);
    await eventually('the payment history to read waiting, finished', async () => {
      const detail = await statusOf(payment.id);
      expect(detail.status).toBe('finished');
      expect(historyOf(detail)).toEqual(['waiting', 'finished']);
    });
  });

  test('when a late confirming arrives after finished, then it is recorded and the payment stays finished', async () => {
    const payment = await openPayment();
    const finished = ipnBody(payment, 'finished');
    const late = ipnBody(payment, 'confirming', { actually_paid: payment.payAmount / 2 });
    expect((await post(finished, sign(finished, IPN_SECRET))).status).toBe(200);
    expect((await post(late, sign(late, IPN_SECRET))).status).toBe(200);

    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    const evidence = stream.filter((e) => e.type === paymentEventTypes.ipnReceived);
    expect(evidence.map((e) => (e.data as { providerStatus: string }).providerStatus)).toEqual([
      'finished',
      'confirming',
    ]);
    expect(stream.filter((e) => e.type === paymentEventTypes.statusChanged)).toHaveLength(1);
    await eventually('the payment to read finished, fully paid', async () => {
      const detail = await statusOf(payment.id);
      expect(detail).toMatchObject({ status: 'finished', actuallyPaid: payment.payAmount });
    });
  });

  test('when NOWPayments sends every IPN twice, then each is recorded once', async () => {
    const payment = await openPayment('paid', 'duplicate');
    await eventually('every IPN delivered', () => {
      const deliveries = h.sandbox.deliveries({ orderId: payment.id });
      expect(deliveries).toHaveLength(8);
      expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);
    });
    const types = await streamTypes(payment.id);
    expect(types.filter((t) => t === paymentEventTypes.ipnReceived)).toHaveLength(4);
    expect(types.filter((t) => t === paymentEventTypes.statusChanged)).toHaveLength(4);
    expect(types.filter((t) => t === paymentEventTypes.confirmed)).toHaveLength(1);
  });

  test('when an IPN carries a status we do not know, then it is recorded, answered 200 and changes nothing', async () => {
    const payment = await openPayment();
    const body = ipnBody(payment, 'wrapped_and_sent');
    const res = await post(body, sign(body, IPN_SECRET));
    expect(res.status).toBe(200);
    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    expect(stream.map((e) => e.type)).toEqual([
      paymentEventTypes.created,
      paymentEventTypes.ipnReceived,
    ]);
    expect(stream[1]!.data).toMatchObject({
      providerStatus: 'wrapped_and_sent',
      source: 'webhook',
    });
    expect((await statusOf(payment.id)).status).toBe('waiting');
  });

  test('when an IPN is for a payment we do not know, then it is logged and answered 200 so NOWPayments stops', async () => {
    const stranger = {
      id: randomUUID(),
      providerPaymentId: '123456',
      payAmount: 1,
      payAddress: 'x',
    };
    for (const orderId of [stranger.id, 'not-one-of-ours', null]) {
      const body = ipnBody(stranger, 'finished', { order_id: orderId });
      const res = await post(body, sign(body, IPN_SECRET));
      expect(res.status).toBe(200);
    }
    expect(await h.service.host.eventStore.streamExists(`payment-${stranger.id}`)).toBe(false);
    expect(h.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: 'nowpayments report for an unknown payment',
          paymentId: stranger.id,
          providerStatus: 'finished',
        }),
      ]),
    );
  });

  test('when a signed IPN is malformed or larger than 64 KiB, then 400 or 413 and nothing is recorded', async () => {
    const payment = await openPayment();
    const { payment_status: _dropped, ...noStatus } = ipnBody(payment, 'finished');
    const malformed = await post(noStatus, sign(noStatus, IPN_SECRET));
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([
      expect.objectContaining({ field: 'payment_status', in: 'body' }),
    ]);

    const huge = ipnBody(payment, 'finished', { order_description: 'x'.repeat(70 * 1024) });
    const tooLarge = await post(huge, sign(huge, IPN_SECRET));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers['content-type']).toMatch(/application\/problem\+json/);

    expect(await streamTypes(payment.id)).toEqual([paymentEventTypes.created]);
  });
});

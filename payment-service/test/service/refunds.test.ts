import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import {
  type PaymentView,
  agentEvents,
  exchanges,
  parkingQueueName,
  paymentEventTypes,
  queues,
} from '@meetmatt/contracts';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import {
  IPN_SECRET,
  type PaymentHarness,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';
import { type PaymentRef, ipnBody, sign } from '../support/ipn';

describe('payment-service: refunds', () => {
  let h: PaymentHarness;
  let user: TestUser;
  let admin: TestUser;
  let broker: ChannelModel;

  beforeAll(async () => {
    h = await startPaymentHarness();
    [user, admin] = await Promise.all([h.user(), h.admin()]);
    broker = await amqp.connect(h.vhost.url);
    // the consumer of brain's events is bound before anything is published to it
    await eventually('the consumers to be ready', async () => {
      const ready = await h.api().get('/readyz');
      expect(ready.body.checks?.consumers?.ok).toBe(true);
    });
  });

  afterAll(async () => {
    await broker?.close().catch(() => undefined);
    await h?.stop();
  });

  async function paidPayment(status = 'finished'): Promise<PaymentRef> {
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(paymentRequest(scenario('manual')));
    const payment = res.body as PaymentRef;
    if (status !== 'waiting') {
      const body = ipnBody(payment, status);
      await h
        .api()
        .post('/webhooks/nowpayments')
        .set('x-nowpayments-sig', sign(body, IPN_SECRET))
        .send(body);
    }
    return payment;
  }

  const refund = (who: TestUser, id: string, reason = 'The customer changed their mind') =>
    h.api().post(`/payments/${id}/refund`).set('Authorization', who.authorization).send({ reason });
  const complete = (who: TestUser, id: string, reference = 'PAYOUT-42') =>
    h
      .api()
      .post(`/payments/${id}/refund/complete`)
      .set('Authorization', who.authorization)
      .send({ reference });
  const published = (type: string, paymentId: string) =>
    h.bus.ofType(type).filter((e) => e.subject === `payment-${paymentId}`);

  async function deployFailed(data: Record<string, unknown>, messageId = randomUUID()) {
    const channel = await broker.createConfirmChannel();
    const event = {
      specversion: '1.0',
      id: messageId,
      source: 'brain-service',
      type: agentEvents.deployFailed.type,
      subject: `agent-${String(data.agentId)}`,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      dataschemaversion: 1,
      correlationid: randomUUID(),
      data,
    };
    channel.publish(
      exchanges.brain,
      agentEvents.deployFailed.type,
      Buffer.from(JSON.stringify(event)),
      {
        messageId,
        contentType: 'application/cloudevents+json',
        persistent: true,
      },
    );
    await channel.waitForConfirms();
    await channel.close();
  }

  const failure = (payment: PaymentRef, final: boolean) => ({
    agentId: randomUUID(),
    userId: user.userId,
    paymentId: payment.id,
    sessionId: null,
    reason: 'Devin session expired',
    attempt: 3,
    build: 1,
    final,
    failedAt: new Date().toISOString(),
  });

  test('when an operator asks for a refund and then completes it, then the payment shows both and the bus carries both', async () => {
    const payment = await paidPayment();

    const requested = await refund(admin, payment.id);
    expect(requested.status).toBe(202);
    expect((requested.body as PaymentView).refund).toEqual({
      status: 'requested',
      reason: 'The customer changed their mind',
      reference: null,
    });
    const completed = await complete(admin, payment.id);
    expect(completed.status).toBe(200);
    expect((completed.body as PaymentView).refund).toEqual({
      status: 'completed',
      reason: 'The customer changed their mind',
      reference: 'PAYOUT-42',
    });

    await eventually('payment.refund-completed published', () => {
      expect(published(paymentEventTypes.refundRequested, payment.id)).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({ requestedBy: 'operator', operatorId: admin.userId }),
        }),
      ]);
      expect(published(paymentEventTypes.refundCompleted, payment.id)).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({ reference: 'PAYOUT-42', operatorId: admin.userId }),
        }),
      ]);
    });
    // the owner sees it too
    const own = await h
      .api()
      .get(`/payments/${payment.id}`)
      .set('Authorization', user.authorization);
    expect(own.body.refund.status).toBe('completed');
  });

  test('when a refund is asked twice, for an unpaid or unknown payment, completed without a request, or by a customer, then 409, 404 or 403', async () => {
    const paid = await paidPayment();
    expect((await refund(admin, paid.id)).status).toBe(202);
    const twice = await refund(admin, paid.id);
    expect(twice.status).toBe(409);
    expect(twice.body.type).toMatch(/refund-already-requested$/);

    const unpaid = await paidPayment('waiting');
    const notPaid = await refund(admin, unpaid.id);
    expect(notPaid.status).toBe(409);
    expect(notPaid.body.type).toMatch(/payment-not-paid$/);
    const noRequest = await complete(admin, unpaid.id);
    expect(noRequest.status).toBe(409);
    expect(noRequest.body.type).toMatch(/refund-not-requested$/);

    expect((await refund(admin, randomUUID())).status).toBe(404);
    expect((await refund(user, paid.id)).status).toBe(403);
    expect((await complete(user, paid.id)).status).toBe(403);
    const badReason = await refund(admin, paid.id, 'x');
    expect(badReason.status).toBe(400);
  });

  test('when brain reports a deployment failed for good, then a refund is requested by itself, once however often the message comes', async () => {
    const payment = await paidPayment();
    const data = failure(payment, true);
    const messageId = randomUUID();

    await deployFailed(data, messageId);
    await deployFailed(data, messageId); // redelivered
    await deployFailed({ ...data, attempt: 4 }); // another copy of the fact

    await eventually('the refund to read requested', async () => {
      const read = await h
        .api()
        .get(`/payments/${payment.id}`)
        .set('Authorization', user.authorization);
      expect(read.body.refund).toEqual({
        status: 'requested',
        reason: 'The agent could not be deployed: Devin session expired',
        reference: null,
      });
    });
    await eventually('payment.refund-requested published', () =>
      expect(published(paymentEventTypes.refundRequested, payment.id)).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({ requestedBy: 'system', operatorId: null }),
        }),
      ]),
    );
    await eventually('the log line: refund requested after a failed deployment', () =>
      expect(
        h.logs.filter((l) => l.message === 'refund requested after a failed deployment'),
      ).toHaveLength(1),
    );
    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    expect(stream.filter((e) => e.type === paymentEventTypes.refundRequested)).toHaveLength(1);
  });

  test('when a rebuild fails for good, then no refund is requested (the first build was delivered)', async () => {
    const payment = await paidPayment();
    const messageId = randomUUID();
    await deployFailed({ ...failure(payment, true), build: 2 }, messageId);

    await eventually('the message to be handled', () =>
      expect(
        h.logs.some(
          (l) =>
            l.message === 'message handled' &&
            (l as { messageId?: string }).messageId === messageId,
        ),
      ).toBe(true),
    );
    const read = await h
      .api()
      .get(`/payments/${payment.id}`)
      .set('Authorization', user.authorization);
    expect(read.body.refund).toBeNull();
    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    expect(stream.filter((e) => e.type === paymentEventTypes.refundRequested)).toHaveLength(0);
  });

  test('when a failure will be retried, then no refund; when it names a payment we do not have, then the message is parked', async () => {
    const payment = await paidPayment();
    await deployFailed(failure(payment, false));
    const stranger = { ...payment, id: randomUUID() };
    await deployFailed(failure(stranger, true));

    const channel = await broker.createChannel();
    try {
      await eventually('one message in the parking queue', async () => {
        const parked = await channel.checkQueue(parkingQueueName(queues.paymentAgentEvents));
        expect(parked.messageCount).toBe(1);
      });
    } finally {
      await channel.close();
    }
    const read = await h
      .api()
      .get(`/payments/${payment.id}`)
      .set('Authorization', user.authorization);
    expect(read.body.refund).toBeNull();
  });
});

import { paymentEventTypes } from '@meetmatt/contracts';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import { CreditNoteIssuer } from '../../src/application/credit-notes';
import { PaymentCommands, paymentCatalog } from '../../src/application/payment-commands';
import { type PaymentRefundCompleted } from '../../src/domain/payment';
import {
  IPN_SECRET,
  type PaymentHarness,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';
import { type PaymentRef, ipnBody, sign } from '../support/ipn';
import { pdfText } from '../support/pdf-text';
import { publishBillingDetails } from '../support/user-events';

const YEAR = new Date().getUTCFullYear();
const billing = {
  name: 'Ассистент 日本 Zoë SARL',
  addressLines: ['12 rue de l’Exemple', '75002 Paris'],
  country: 'FR',
  taxId: 'FR12345678901',
};

describe('payment-service: credit notes', () => {
  let h: PaymentHarness;
  let user: TestUser;
  let admin: TestUser;
  let stranger: TestUser;

  beforeAll(async () => {
    h = await startPaymentHarness({
      env: { INVOICE_SELLER_NAME: 'Meet Matt SAS', INVOICE_SELLER_ADDRESS: '1 rue de Test' },
    });
    [user, admin, stranger] = await Promise.all([h.user(), h.admin(), h.user()]);
    // the consumer of user events is bound before any billing details are published
    await eventually('the consumers to be ready', async () => {
      const ready = await h.api().get('/readyz');
      expect(ready.body.checks?.consumers?.ok).toBe(true);
    });
    await publishBillingDetails(h.vhost.url, user.userId, billing);
    await eventually('the buyer’s billing details to arrive', async () => {
      const row = await h.service.host.database.db
        .selectFrom('buyer_billing_details')
        .select('billing')
        .where('user_id', '=', user.userId)
        .executeTakeFirst();
      expect(row?.billing).toEqual(billing);
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  /** A payment of the user's, paid and invoiced. */
  async function invoicedPayment(agentName = 'Ассистент 日本 Zoë'): Promise<PaymentRef> {
    const body = paymentRequest(scenario('manual'));
    body.agent.name = `${agentName} [sandbox:manual]`;
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(body);
    expect(res.status).toBe(201);
    const payment = res.body as PaymentRef;
    const ipn = ipnBody(payment, 'finished');
    await h
      .api()
      .post('/webhooks/nowpayments')
      .set('x-nowpayments-sig', sign(ipn, IPN_SECRET))
      .send(ipn)
      .expect(200);
    await eventually('the invoice', async () =>
      expect((await get(user, payment.id, 'invoice')).status).toBe(200),
    );
    return payment;
  }

  function get(
    who: TestUser,
    id: string,
    what: 'invoice' | 'credit-note',
    accept = 'application/json',
  ) {
    return h
      .api()
      .get(`/payments/${id}/${what}`)
      .set('Authorization', who.authorization)
      .set('Accept', accept)
      .buffer(true)
      .parse((response, done) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => done(null, Buffer.concat(chunks)));
      });
  }
  const json = (res: { body: unknown }) =>
    JSON.parse((res.body as Buffer).toString('utf8')) as Record<string, unknown> & {
      number: string;
      type: string;
    };

  async function refundCompleted(id: string, reference = 'PAYOUT-42') {
    await h
      .api()
      .post(`/payments/${id}/refund`)
      .set('Authorization', admin.authorization)
      .send({ reason: 'The agent could not be deployed' })
      .expect(202);
    await h
      .api()
      .post(`/payments/${id}/refund/complete`)
      .set('Authorization', admin.authorization)
      .send({ reference })
      .expect(200);
  }

  const creditNotesOf = async (id: string) =>
    (await h.service.host.eventStore.readStream(`payment-${id}`)).filter(
      (e) => e.type === paymentEventTypes.creditNoteIssued,
    );

  test('when a refund completes, then a credit note in its own sequence credits the invoice with the negative amount and the buyer, as JSON and as PDF', async () => {
    const payment = await invoicedPayment();
    const invoice = json(await get(user, payment.id, 'invoice'));
    await refundCompleted(payment.id);

    const note = await eventually('the credit note', async () => {
      const res = await get(user, payment.id, 'credit-note');
      expect(res.status).toBe(200);
      return json(res);
    });
    expect(note).toMatchObject({
      number: expect.stringMatching(new RegExp(`^MM-CN-${YEAR}-\\d{6}$`)),
      invoiceNumber: invoice.number,
      paymentId: payment.id,
      userId: user.userId,
      amount: -49,
      currency: 'usd',
      reason: 'The agent could not be deployed',
      refundReference: 'PAYOUT-42',
      buyer: billing,
      seller: { name: 'Meet Matt SAS', address: '1 rue de Test' },
    });
    const detail = await h
      .api()
      .get(`/payments/${payment.id}`)
      .set('Authorization', user.authorization)
      .expect(200);
    expect(detail.body.creditNoteNumber).toBe(note.number);
    // published for the other services, like the invoice
    await eventually('the credit note on the bus', () =>
      expect(
        h.bus
          .ofType(paymentEventTypes.creditNoteIssued)
          .some((e) => e.subject === `payment-${payment.id}`),
      ).toBe(true),
    );

    const pdf = await get(user, payment.id, 'credit-note', 'application/pdf');
    expect(pdf.status).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toBe(`inline; filename="${note.number}.pdf"`);
    const text = await pdfText(pdf.body as Buffer);
    for (const part of [
      `Credit note ${note.number}`,
      invoice.number,
      'Ассистент 日本 Zoë',
      'Ассистент 日本 Zoë SARL',
      '75002 Paris',
      'France',
      '-49.00 USD',
    ])
      expect(text).toContain(part);

    // an operator reads it too
    expect((await get(admin, payment.id, 'credit-note')).status).toBe(200);
  });

  test('when someone else asks for the credit note, then 404; when no refund was completed, then 409; an unacceptable type, 406', async () => {
    const payment = await invoicedPayment('Plain agent');
    const early = await get(user, payment.id, 'credit-note');
    expect(early.status).toBe(409);
    expect(json(early).type).toMatch(/\/refund-not-completed$/);
    await refundCompleted(payment.id);
    await eventually('the credit note', async () =>
      expect((await get(user, payment.id, 'credit-note')).status).toBe(200),
    );
    const foreign = await get(stranger, payment.id, 'credit-note');
    expect(foreign.status).toBe(404);
    expect(foreign.headers['content-type']).toMatch(/problem\+json/);
    expect((await get(stranger, payment.id, 'credit-note', 'application/pdf')).status).toBe(404);
    expect((await get(user, payment.id, 'credit-note', 'image/png')).status).toBe(406);
  });

  test('when refunds are credited many times at once (redeliveries, a second instance, the policy), then each gets exactly one credit note and the numbers run without gap or repeat', async () => {
    const payments = await Promise.all(
      Array.from({ length: 6 }, (_, i) => invoicedPayment(`Agent ${i}`)),
    );
    await Promise.all(payments.map((p, i) => refundCompleted(p.id, `PAYOUT-${i}`)));
    const completions = await Promise.all(
      payments.map(async (p) => {
        const stream = await h.service.host.eventStore.readStream(`payment-${p.id}`);
        const done = stream.find((e) => e.type === paymentEventTypes.refundCompleted)!;
        return { data: done.data as PaymentRefundCompleted['data'], at: done.createdAt };
      }),
    );
    const store = h.service.host.eventStore;
    const otherInstance = new CreditNoteIssuer(store, new PaymentCommands(store, paymentCatalog()));
    const metadata = { correlationId: 'test', causationId: 'test' };
    const outcomes = await Promise.all(
      [h.service.creditNotes, otherInstance, h.service.creditNotes].flatMap((issuer) =>
        completions.map((c) => issuer.issue(c.data, c.at, metadata)),
      ),
    );
    expect(outcomes.every((o) => o.kind !== 'refused')).toBe(true);

    for (const p of payments) {
      await eventually('the policy’s attempt to be done too', async () =>
        expect((await get(user, p.id, 'credit-note')).status).toBe(200),
      );
      expect(await creditNotesOf(p.id)).toHaveLength(1);
    }
    const allocations = (await store.readStream(`credit-note-counter-${YEAR}`)).map(
      (e) => e.data as { sequence: number; paymentId: string },
    );
    expect(allocations.map((a) => a.sequence)).toEqual(allocations.map((_, i) => i + 1));
    expect(new Set(allocations.map((a) => a.paymentId)).size).toBe(allocations.length);
    expect(allocations.map((a) => a.paymentId)).toEqual(
      expect.arrayContaining(payments.map((p) => p.id)),
    );
    // a credit note is numbered apart: invoices keep their own counter
    const numbers = await Promise.all(
      payments.map(async (p) => json(await get(user, p.id, 'credit-note')).number),
    );
    expect(new Set(numbers).size).toBe(payments.length);
    for (const n of numbers) expect(n).toMatch(/^MM-CN-/);
  });

  test('when a payment that was never invoiced (partially paid) is refunded, then no credit note and no number is taken', async () => {
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send(paymentRequest(scenario('manual')));
    const payment = res.body as PaymentRef;
    const ipn = ipnBody(payment, 'partially_paid');
    await h
      .api()
      .post('/webhooks/nowpayments')
      .set('x-nowpayments-sig', sign(ipn, IPN_SECRET))
      .send(ipn)
      .expect(200);
    await refundCompleted(payment.id);
    const stream = await h.service.host.eventStore.readStream(`payment-${payment.id}`);
    const done = stream.find((e) => e.type === paymentEventTypes.refundCompleted)!;
    const outcome = await h.service.creditNotes.issue(
      done.data as PaymentRefundCompleted['data'],
      done.createdAt,
      { correlationId: 'test', causationId: 'test' },
    );
    expect(outcome).toMatchObject({ kind: 'refused' });
    const counter = await h.service.host.eventStore.readStream(`credit-note-counter-${YEAR}`);
    expect(counter.some((e) => (e.data as { paymentId: string }).paymentId === payment.id)).toBe(
      false,
    );
    const answer = await get(user, payment.id, 'credit-note');
    expect(answer.status).toBe(409);
    expect(json(answer).type).toMatch(/\/payment-not-invoiced$/);
  });
});

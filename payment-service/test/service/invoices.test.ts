import { paymentEventTypes } from '@meetmatt/contracts';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import { InvoiceIssuer } from '../../src/application/invoicing';
import { PaymentCommands, paymentCatalog } from '../../src/application/payment-commands';
import { type PaymentConfirmed } from '../../src/domain/payment';
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

describe('payment-service: invoices', () => {
  let h: PaymentHarness;
  let user: TestUser;

  beforeAll(async () => {
    h = await startPaymentHarness({
      env: {
        INVOICE_SELLER_NAME: 'Meet Matt SAS',
        // As a one-line env file (the k8s ConfigMap) writes it.
        INVOICE_SELLER_ADDRESS: '1 rue de Test\\n75001 Paris\\nFrance',
        INVOICE_SELLER_TAX_ID: 'FR00123456789',
      },
    });
    user = await h.user();
    // the consumer of user events is bound before any billing details are published
    await eventually('the consumers to be ready', async () => {
      const ready = await h.api().get('/readyz');
      expect(ready.body.checks?.consumers?.ok).toBe(true);
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  async function openPayment(agentName?: string, owner: TestUser = user): Promise<PaymentRef> {
    const body = paymentRequest(scenario('manual'));
    if (agentName) body.agent.name = `${agentName} [sandbox:manual]`;
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', owner.authorization)
      .send(body);
    expect(res.status).toBe(201);
    return res.body as PaymentRef;
  }

  function finish(payment: PaymentRef) {
    const body = ipnBody(payment, 'finished');
    return h
      .api()
      .post('/webhooks/nowpayments')
      .set('x-nowpayments-sig', sign(body, IPN_SECRET))
      .send(body);
  }

  /** What the payment service knows of a buyer's billing details. */
  async function buyerDetails(userId: string) {
    const row = await h.service.host.database.db
      .selectFrom('buyer_billing_details')
      .select('billing')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.billing;
  }

  async function invoiceOf(paymentId: string, accept = 'application/json', owner: TestUser = user) {
    return eventually('the invoice to be readable', async () => {
      const res = await h
        .api()
        .get(`/payments/${paymentId}/invoice`)
        .set('Authorization', owner.authorization)
        .set('Accept', accept)
        .buffer(true)
        .parse((response, done) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(res.status).toBe(200);
      return { res, bytes: res.body as Buffer };
    });
  }

  const sequenceOf = (invoiceNumber: string) => Number(invoiceNumber.slice(-6));

  async function counter() {
    const events = await h.service.host.eventStore.readStream(`invoice-counter-${YEAR}`);
    return events.map((e) => e.data as { sequence: number; paymentId: string });
  }

  test('when two payments are confirmed at the same moment, then they get consecutive invoice numbers', async () => {
    const [a, b] = await Promise.all([openPayment(), openPayment()]);
    const answers = await Promise.all([finish(a), finish(b)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);

    const numbers = await Promise.all(
      [a, b].map(
        async (p) => JSON.parse((await invoiceOf(p.id)).bytes.toString()).number as string,
      ),
    );
    for (const number of numbers) expect(number).toMatch(new RegExp(`^MM-${YEAR}-\\d{6}$`));
    const [first, second] = numbers.map(sequenceOf).sort((x, y) => x - y);
    expect(second).toBe(first! + 1);
  });

  test('when payments confirmed together are numbered, then each number carries its own confirmation as cause and its payment’s journey', async () => {
    const [a, b] = await Promise.all([openPayment(), openPayment()]);
    await Promise.all([finish(a), finish(b)]);
    await Promise.all([invoiceOf(a.id), invoiceOf(b.id)]);
    const allocations = await h.service.host.eventStore.readStream(`invoice-counter-${YEAR}`);
    for (const p of [a, b]) {
      const stream = await h.service.host.eventStore.readStream(`payment-${p.id}`);
      const confirmed = stream.find((e) => e.type === paymentEventTypes.confirmed)!;
      const allocation = allocations.find(
        (e) => (e.data as { paymentId: string }).paymentId === p.id,
      )!;
      expect(allocation.metadata).toMatchObject({
        correlationId: stream[0]!.metadata.correlationId,
        causationId: confirmed.id,
        userId: user.userId,
      });
    }
  });

  test('when many confirmations are invoiced at once, and each more than once, then the numbers run without gap or repeat, one per payment', async () => {
    const payments = await Promise.all(Array.from({ length: 8 }, () => openPayment()));
    await Promise.all(payments.map((p) => finish(p)));
    const confirmations = await Promise.all(
      payments.map(async (p) => {
        const stream = await h.service.host.eventStore.readStream(`payment-${p.id}`);
        const confirmed = stream.find((e) => e.type === paymentEventTypes.confirmed)!;
        return { data: confirmed.data as PaymentConfirmed['data'], at: confirmed.createdAt };
      }),
    );
    // the policy issues them too, at the same time: three issuers per payment in all, one of
    // them another instance's, with its own view of the counter to keep up to date
    const store = h.service.host.eventStore;
    const otherInstance = new InvoiceIssuer(
      store,
      new PaymentCommands(store, paymentCatalog()),
      async () => null,
    );
    const metadata = { correlationId: 'test', causationId: 'test' };
    await Promise.all(
      [h.service.invoices, otherInstance].flatMap((issuer) =>
        confirmations.map((c) => issuer.issue(c.data, c.at, metadata)),
      ),
    );

    for (const p of payments) {
      const stream = await h.service.host.eventStore.readStream(`payment-${p.id}`);
      expect(stream.filter((e) => e.type === paymentEventTypes.invoiceIssued)).toHaveLength(1);
    }
    const allocations = await counter();
    expect(allocations.map((a) => a.sequence)).toEqual(allocations.map((_, i) => i + 1));
    expect(new Set(allocations.map((a) => a.paymentId)).size).toBe(allocations.length);
    expect(allocations.map((a) => a.paymentId)).toEqual(
      expect.arrayContaining(payments.map((p) => p.id)),
    );
  });

  test('when the invoice is asked for as JSON, HTML or PDF, then each carries the number, and the HTML escapes what the user typed', async () => {
    const payment = await openPayment('<script>alert(1)</script> & Co');
    await finish(payment);
    const json = JSON.parse((await invoiceOf(payment.id)).bytes.toString()) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({
      paymentId: payment.id,
      plan: 'starter',
      amount: 49,
      currency: 'usd',
      seller: {
        name: 'Meet Matt SAS',
        address: '1 rue de Test\n75001 Paris\nFrance',
        taxId: 'FR00123456789',
      },
      description: expect.stringContaining('<script>'),
    });
    const number = json.number as string;

    const html = await invoiceOf(payment.id, 'text/html');
    expect(html.res.headers['content-type']).toMatch(/^text\/html/);
    const page = html.bytes.toString('utf8');
    expect(page).toContain(number);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
    expect(page).not.toContain('<script>');

    const pdf = await invoiceOf(payment.id, 'application/pdf');
    expect(pdf.res.headers['content-type']).toBe('application/pdf');
    expect(pdf.res.headers['content-disposition']).toBe(`inline; filename="${number}.pdf"`);
    expect(pdf.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.bytes.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
    expect(await pdfText(pdf.bytes)).toContain(`Invoice ${number}`);

    const refused = await h
      .api()
      .get(`/payments/${payment.id}/invoice`)
      .set('Authorization', user.authorization)
      .set('Accept', 'image/png');
    expect(refused.status).toBe(406);
  });

  test('when an agent named in Cyrillic, Japanese and accented Latin is paid for by a buyer who gave billing details, then its invoice PDF shows the name, the number, the configured seller and the buyer', async () => {
    const buyer = await h.user();
    const billing = {
      name: 'Ассистент 日本 Zoë GmbH',
      addressLines: ['Friedrichstraße 1', '10117 Berlin'],
      country: 'DE',
      taxId: 'DE123456789',
    };
    await publishBillingDetails(h.vhost.url, buyer.userId, billing, { copies: 2 });
    await eventually('the billing details to reach the payment service', async () =>
      expect(await buyerDetails(buyer.userId)).toEqual(billing),
    );
    const payment = await openPayment('Ассистент 日本 Zoë', buyer);
    await finish(payment);
    const json = JSON.parse(
      (await invoiceOf(payment.id, 'application/json', buyer)).bytes.toString(),
    ) as {
      number: string;
      buyer: unknown;
    };
    expect(json.buyer).toEqual(billing);
    const text = await pdfText((await invoiceOf(payment.id, 'application/pdf', buyer)).bytes);
    const lines = text.split('\n').map((line) => line.trim());
    expect(text).toContain('Ассистент 日本 Zoë');
    expect(lines).toContain(`Invoice ${json.number}`);
    for (const line of [
      'Meet Matt SAS',
      '1 rue de Test',
      '75001 Paris',
      'France',
      'Tax ID: FR00123456789',
      'Bill to',
      'Ассистент 日本 Zoë GmbH',
      'Friedrichstraße 1',
      '10117 Berlin',
      'Germany',
      'VAT / Tax ID: DE123456789',
    ]) {
      expect(lines.some((l) => l.includes(line))).toBe(true);
    }
  });

  test('when the buyer changes their billing details after the invoice was issued, then the invoice keeps the details it was issued with, and the next invoice has the new ones', async () => {
    const buyer = await h.user();
    const before = {
      name: 'Old Name Ltd',
      addressLines: ['1 Old Road'],
      country: 'GB',
      taxId: null,
    };
    const after = {
      name: 'New Name Ltd',
      addressLines: ['2 New Road'],
      country: 'IE',
      taxId: 'IE1234567T',
    };
    await publishBillingDetails(h.vhost.url, buyer.userId, before, {
      changedAt: '2026-01-01T00:00:00.000Z',
    });
    await eventually('the first details', async () =>
      expect(await buyerDetails(buyer.userId)).toEqual(before),
    );
    const first = await openPayment(undefined, buyer);
    await finish(first);
    await invoiceOf(first.id, 'application/json', buyer);

    await publishBillingDetails(h.vhost.url, buyer.userId, after, {
      changedAt: '2026-01-02T00:00:00.000Z',
    });
    // A change older than the one kept (a retry overtaken) does not bring the old details back.
    await publishBillingDetails(h.vhost.url, buyer.userId, before, {
      changedAt: '2026-01-01T12:00:00.000Z',
    });
    await eventually('the new details', async () =>
      expect(await buyerDetails(buyer.userId)).toEqual(after),
    );
    const second = await openPayment(undefined, buyer);
    await finish(second);

    const read = async (id: string) =>
      JSON.parse((await invoiceOf(id, 'application/json', buyer)).bytes.toString()) as {
        buyer: unknown;
      };
    expect((await read(first.id)).buyer).toEqual(before);
    expect((await read(second.id)).buyer).toEqual(after);
    expect(await pdfText((await invoiceOf(first.id, 'application/pdf', buyer)).bytes)).toContain(
      'Old Name Ltd',
    );
  });

  test('when the buyer never gave billing details, then the invoice says buyer null', async () => {
    const payment = await openPayment();
    await finish(payment);
    const json = JSON.parse((await invoiceOf(payment.id)).bytes.toString()) as { buyer: unknown };
    expect(json.buyer).toBeNull();
  });
});

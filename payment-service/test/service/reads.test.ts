import { randomUUID } from 'node:crypto';
import { type PaymentView } from '@meetmatt/contracts';
import { resumeProjection, stopProjection } from '@meetmatt/infra';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import {
  type PaymentHarness,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';

interface Page {
  items: PaymentView[];
  nextCursor: string | null;
}

describe('payment-service: reading payments', () => {
  let h: PaymentHarness;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  const alicePayments: string[] = [];
  let bobPayment: { id: string; providerPaymentId: string };

  beforeAll(async () => {
    h = await startPaymentHarness();
    [alice, bob, admin] = await Promise.all([h.user(), h.user(), h.admin()]);
    for (let i = 0; i < 5; i++) {
      const res = await h
        .api()
        .post('/payments/create')
        .set('Authorization', alice.authorization)
        .send(paymentRequest(scenario('manual')));
      alicePayments.push(res.body.id as string);
    }
    const res = await h
      .api()
      .post('/payments/create')
      .set('Authorization', bob.authorization)
      .send(paymentRequest(scenario('manual')));
    bobPayment = res.body as typeof bobPayment;
    // one of Alice's moves on: NOWPayments sees the deposit
    const moved = await h.service.host.eventStore.readStream(`payment-${alicePayments[1]}`);
    h.sandbox.setStatus(
      (moved[0]!.data as { providerPaymentId: string }).providerPaymentId,
      'confirming',
    );
    await eventually("alice's second payment to read 'confirming'", async () => {
      const status = await h
        .api()
        .get(`/payments/${alicePayments[1]}/status`)
        .set('Authorization', alice.authorization);
      expect(status.body.status).toBe('confirming');
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const get = (who: TestUser, path: string) =>
    h.api().get(path).set('Authorization', who.authorization);

  async function everyPage(
    who: TestUser,
    query: string,
  ): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path: string = `/payments?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await get(who, path);
      expect(res.status).toBe(200);
      const page = res.body as Page;
      ids.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    return { ids, pages };
  }

  test('when a user asks for another user’s payment, then it is a 404 everywhere and absent from their list', async () => {
    for (const path of [
      `/payments/${bobPayment.id}`,
      `/payments/${bobPayment.id}/status`,
      `/payments/${bobPayment.id}/invoice`,
    ]) {
      const res = await get(alice, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const { ids } = await everyPage(alice, 'limit=100');
    expect(ids).not.toContain(bobPayment.id);
    expect((await get(bob, `/payments/${bobPayment.id}`)).status).toBe(200);
  });

  test('when a user lists their payments page by page, then they get each of their own once, newest first', async () => {
    const { ids, pages } = await everyPage(alice, 'limit=2');
    expect(ids).toEqual([...alicePayments].reverse());
    expect(pages).toBe(3);
  });

  test('when a list is filtered by status, then only payments in that status come back', async () => {
    const confirming = await everyPage(alice, 'status=confirming');
    expect(confirming.ids).toEqual([alicePayments[1]]);
    const waiting = await everyPage(alice, 'status=waiting&limit=3');
    expect(waiting.ids).toEqual(
      [...alicePayments].reverse().filter((id) => id !== alicePayments[1]),
    );
  });

  test('when an operator lists payments, then they see everyone’s, and can read any one of them', async () => {
    const { ids } = await everyPage(admin, 'limit=100');
    expect(ids).toEqual(expect.arrayContaining([...alicePayments, bobPayment.id]));
    const res = await get(admin, `/payments/${bobPayment.id}`);
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe(bob.userId);
  });

  test('when a payment is read, then it comes with its history, and its status alone on /status', async () => {
    const detail = await get(alice, `/payments/${alicePayments[1]}`);
    expect(detail.body).toMatchObject({
      id: alicePayments[1],
      userId: alice.userId,
      status: 'confirming',
      invoiceNumber: null,
      refund: null,
      history: [
        { status: 'waiting', providerStatus: null, source: 'created' },
        { status: 'confirming', providerStatus: 'confirming', source: 'webhook' },
      ],
    });
    const status = await get(alice, `/payments/${alicePayments[1]}/status`);
    expect(status.body).toEqual({
      id: alicePayments[1],
      status: 'confirming',
      actuallyPaid: expect.any(Number),
      updatedAt: expect.any(String),
    });
  });

  test('when an id, a cursor or a query is malformed, or the payment does not exist, then 400 or 404', async () => {
    expect((await get(alice, '/payments/not-a-uuid')).status).toBe(400);
    expect((await get(alice, `/payments/${randomUUID()}`)).status).toBe(404);
    const badCursor = await get(alice, '/payments?cursor=garbage');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors).toEqual([
      expect.objectContaining({ field: 'cursor', in: 'query' }),
    ]);
    expect((await get(alice, '/payments?limit=0')).status).toBe(400);
    expect((await get(alice, '/payments?status=paid')).status).toBe(400);
    expect((await h.api().get('/payments')).status).toBe(401);
  });

  test.each([
    ['year -200000', '-200000-01-01T00:00:00.000Z'],
    ['year 275760', '+275760-09-13T00:00:00.000Z'],
    ['a date without milliseconds', '2026-01-01T00:00:00Z'],
    ['the 31st of February', '2026-02-31T00:00:00.000Z'],
  ])('when a cursor holds %s, then 400 naming cursor, never a 5xx', async (_what, at) => {
    const cursor = Buffer.from(`${at}|${randomUUID()}`, 'utf8').toString('base64url');
    const res = await get(alice, `/payments?cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'cursor', in: 'query' })]);
    const asOperator = await get(admin, `/payments?cursor=${cursor}&status=underpaid`);
    expect(asOperator.status).toBe(400);
  });

  test('when any payment path holds an id that is not a uuid, or odd query values, then 4xx problem+json, never a 5xx', async () => {
    const odd = ['not-a-uuid', '%00', '1e400', `${randomUUID()}x`, "1'%20OR%20'1'='1"];
    for (const id of odd) {
      for (const path of [`/payments/${id}`, `/payments/${id}/status`, `/payments/${id}/invoice`]) {
        const res = await get(alice, path);
        expect([path, res.status]).toEqual([path, expect.any(Number)]);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
      const refund = await h
        .api()
        .post(`/payments/${id}/refund`)
        .set('Authorization', admin.authorization)
        .send({ reason: 'Goodwill gesture' });
      expect(refund.status).toBeGreaterThanOrEqual(400);
      expect(refund.status).toBeLessThan(500);
    }
    for (const query of [
      'limit=abc',
      'limit=1e400',
      'limit=-1',
      'limit=100000000000000000000',
      'status=%00',
      'cursor=%00',
      `cursor=${'A'.repeat(5_000)}`,
      'limit=1&limit=2',
    ]) {
      const res = await get(alice, `/payments?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });

  test('when a payment just created is not in the read model yet (its projection behind), then a read of it answers 503 with Retry-After, not 404, and 200 once it is', async () => {
    const context = {
      db: h.service.host.database.db,
      store: h.service.host.eventStore,
      connectionString: h.service.config.DATABASE_URL,
    };
    await stopProjection(context, 'payments');
    let id: string;
    try {
      const created = await h
        .api()
        .post('/payments/create')
        .set('Authorization', alice.authorization)
        .send(paymentRequest(scenario('manual')));
      expect(created.status).toBe(201);
      id = created.body.id as string;
      for (const path of [`/payments/${id}`, `/payments/${id}/status`]) {
        const res = await get(alice, path);
        expect([path, res.status]).toEqual([path, 503]);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    } finally {
      await resumeProjection(context, 'payments');
    }
    await eventually("alice's payment status to be readable", async () =>
      expect((await get(alice, `/payments/${id}/status`)).status).toBe(200),
    );
    expect((await get(bob, `/payments/${id}`)).status).toBe(404);
  });

  test('when the invoice of an unconfirmed payment is asked for, then 409', async () => {
    const res = await get(alice, `/payments/${alicePayments[0]}/invoice`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/not confirmed/);
  });
});

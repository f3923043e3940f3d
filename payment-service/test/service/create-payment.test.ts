import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { type TestUser, eventually } from '@meetmatt/infra/testing';
import {
  type PaymentHarness,
  historyOf,
  paymentRequest,
  scenario,
  startPaymentHarness,
} from '../support/harness';
import { sleep } from '@meetmatt/infra/runtime/backoff';

/**
 * Between the service and the sandbox: passes calls through, or fails them the way a provider
 * can (a 500 with NOWPayments' error body, a connection that never answers), or holds them until
 * released (to make two requests overlap).
 */
class Switchboard {
  mode: 'forward' | 'fail' | 'hang' | 'hold' | 'slow' = 'forward';
  private held: (() => void)[] = [];
  private server!: Server;
  url = '';

  constructor(private readonly target: () => string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const forward = async () => {
          const upstream = await fetch(`${this.target()}${req.url}`, {
            method: req.method,
            headers: req.headers as Record<string, string>,
            body: req.method === 'GET' ? null : Buffer.concat(chunks),
          });
          const text = await upstream.text();
          // A slow answer: NOWPayments' IPNs may overtake it.
          if (this.mode === 'slow') await sleep(300);
          res.writeHead(upstream.status, { 'content-type': 'application/json' });
          res.end(text);
        };
        if (this.mode === 'hang') return;
        if (this.mode === 'fail') {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              status: false,
              statusCode: 500,
              code: 'INTERNAL_ERROR',
              message: 'Something went wrong',
            }),
          );
          return;
        }
        if (this.mode === 'hold') this.held.push(() => void forward());
        else void forward();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get holding(): number {
    return this.held.length;
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('payment-service: POST /payments/create', () => {
  let h: PaymentHarness;
  let board: Switchboard;
  let user: TestUser;

  beforeAll(async () => {
    let sandboxUrl = '';
    board = new Switchboard(() => sandboxUrl);
    await board.start();
    h = await startPaymentHarness({
      env: { NOWPAYMENTS_API_URL: board.url, NOWPAYMENTS_TIMEOUT_MS: '1500' },
    });
    sandboxUrl = h.sandbox.url!;
  });

  beforeEach(async () => {
    board.mode = 'forward';
    user = await h.user();
  });

  afterAll(async () => {
    await h?.stop();
    await board?.stop();
  });

  const create = (who: TestUser, body: unknown, key?: string) => {
    const req = h.api().post('/payments/create').set('Authorization', who.authorization);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(body as object);
  };

  const providerCalls = () => h.sandbox.calls().filter((c) => c.path === '/v1/payment');

  const paymentStreams = async () =>
    (await h.service.host.eventStore.listStreams({ prefix: 'payment-', limit: 1_000 })).length;

  const listOwn = async (who: TestUser) =>
    (await h.api().get('/payments').set('Authorization', who.authorization)).body as {
      items: { id: string }[];
    };

  test('when the same key is sent twice by the same user, then the first answer comes back and NOWPayments is called once', async () => {
    const key = randomUUID();
    const body = paymentRequest();
    const before = providerCalls().length;

    const first = await create(user, body, key);
    const second = await create(user, body, key);

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(providerCalls().length - before).toBe(1);
    expect((await listOwn(user)).items.map((p) => p.id)).toEqual([first.body.id]);
  });

  test('when five requests with the same key arrive at once, then one payment is made and all get its answer', async () => {
    const key = randomUUID();
    const body = paymentRequest();
    const before = providerCalls().length;
    board.mode = 'hold';

    const answers = Array.from({ length: 5 }, () => create(user, body, key).then((r) => r));
    const pending = Promise.all(answers);
    // the one request that won the key is at NOWPayments; the others wait for its answer
    await eventually('a request at NOWPayments', () => board.holding > 0, { intervalMs: 10 });
    await sleep(150);
    expect(board.holding).toBe(1);
    board.release();
    const results = await pending;

    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(results.map((r) => r.body.id as string)).size).toBe(1);
    expect(providerCalls().length - before).toBe(1);
    expect((await listOwn(user)).items).toHaveLength(1);
  });

  test('when a key is reused with another body, then 422 and nothing new is made', async () => {
    const key = randomUUID();
    const first = await create(user, paymentRequest(), key);
    const before = providerCalls().length;
    const second = await create(user, paymentRequest({ plan: 'pro' }), key);

    expect(first.status).toBe(201);
    expect(second.status).toBe(422);
    expect(second.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(providerCalls().length).toBe(before);
  });

  test('when two users send the same key, then each gets a payment of their own', async () => {
    const key = randomUUID();
    const other = await h.user();
    const mine = await create(user, paymentRequest(), key);
    const theirs = await create(other, paymentRequest(), key);
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  test('when NOWPayments fails, then 502 problem+json, nothing is recorded, and a retry with the same key succeeds', async () => {
    const key = randomUUID();
    const streams = await paymentStreams();
    board.mode = 'fail';

    const failed = await create(user, paymentRequest(), key);

    expect(failed.status).toBe(502);
    expect(failed.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(failed.body).toMatchObject({
      status: 502,
      detail: expect.stringMatching(/NOWPayments/),
    });
    expect(await paymentStreams()).toBe(streams);
    expect((await listOwn(user)).items).toEqual([]);

    board.mode = 'forward';
    const retried = await create(user, paymentRequest(), key);
    expect(retried.status).toBe(201);
    expect((await listOwn(user)).items.map((p) => p.id)).toEqual([retried.body.id]);
  });

  test('when NOWPayments does not answer in time, then 502 within the timeout and nothing is recorded', async () => {
    const streams = await paymentStreams();
    board.mode = 'hang';
    const started = Date.now();

    const res = await create(user, paymentRequest());

    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/did not answer in time/);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await paymentStreams()).toBe(streams);
    expect(h.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: 'payment not opened: NOWPayments failed',
          kind: 'timeout',
        }),
      ]),
    );
  });

  test('when the payCurrency is not a coin we accept, then 400 naming payCurrency and listing the supported coins, NOWPayments is not called and nothing is recorded', async () => {
    const streams = await paymentStreams();
    const before = providerCalls().length;

    const res = await create(user, paymentRequest({ payCurrency: 'dogecoinz' }));

    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        field: 'payCurrency',
        in: 'body',
        message: expect.stringMatching(/supported: btc, eth, .*usdttrc20/),
      }),
    ]);
    expect(providerCalls().length).toBe(before);
    expect(await paymentStreams()).toBe(streams);
  });

  test.each([
    ['agent.name', { agent: { name: 'Bot\u0000name' } }],
    ['agent.instructions', { agent: { instructions: 'Answer\u0000from the docs' } }],
    ['plan', { plan: 'starter\u0000' }],
  ])(
    'when %s holds a NUL byte, then 400 naming it, NOWPayments is not called and nothing is recorded',
    async (field, overrides) => {
      const streams = await paymentStreams();
      const before = providerCalls().length;

      const res = await create(user, paymentRequest(overrides), `nul-${randomUUID()}`);

      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect((res.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(
        field,
      );
      expect(providerCalls().length).toBe(before);
      expect(await paymentStreams()).toBe(streams);
    },
  );

  test('when recording fails after NOWPayments opened its payment, then the payment is recorded from the kept answer when its IPN arrives, and confirmed', async () => {
    const store = h.service.host.eventStore;
    const append = store.appendToStream.bind(store);
    let failed = 0;
    // The database refuses the one append of payment.created (as a failover mid-request would).
    store.appendToStream = async (...args: Parameters<typeof append>) => {
      const [streamId, events] = args;
      if (
        failed === 0 &&
        streamId.startsWith('payment-') &&
        events[0]?.type === 'payment.created'
      ) {
        failed += 1;
        throw new Error('Connection terminated unexpectedly');
      }
      return append(...args);
    };
    let res;
    try {
      // The sandbox plays its default (paid) scenario: its IPNs may come before or after the
      // failed recording, and find the kept answer either way.
      res = await create(user, paymentRequest());
    } finally {
      store.appendToStream = append;
    }
    expect(failed).toBe(1);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const opened = h.sandbox.payments().at(-1)!;
    const paymentId = opened.order_id!;

    await eventually('the payment to read as opened at NOWPayments', async () => {
      const read = await h
        .api()
        .get(`/payments/${paymentId}`)
        .set('Authorization', user.authorization);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        providerPaymentId: String(opened.payment_id),
        status: 'finished',
      });
    });
    expect(h.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: 'payment opened at NOWPayments recorded after its request failed',
          paymentId,
        }),
      ]),
    );
  });

  test('when recording fails after NOWPayments opened a payment nobody pays yet, then the next reconciliation round records it', async () => {
    const store = h.service.host.eventStore;
    const append = store.appendToStream.bind(store);
    store.appendToStream = async (...args: Parameters<typeof append>) => {
      if (args[1][0]?.type === 'payment.created')
        throw new Error('Connection terminated unexpectedly');
      return append(...args);
    };
    let res;
    try {
      res = await create(user, paymentRequest(scenario('manual')));
    } finally {
      store.appendToStream = append;
    }
    expect(res.status).toBeGreaterThanOrEqual(500);
    const opened = h.sandbox.payments().at(-1)!;
    const paymentId = opened.order_id!;
    expect(
      (await h.api().get(`/payments/${paymentId}`).set('Authorization', user.authorization)).status,
    ).toBe(404);

    await h.service.reconcileOnce({ olderThanMs: 0 });

    await eventually('the payment to read as opened at NOWPayments', async () => {
      const read = await h
        .api()
        .get(`/payments/${paymentId}`)
        .set('Authorization', user.authorization);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        providerPaymentId: String(opened.payment_id),
        status: 'waiting',
      });
    });
  });

  test('when the plan is not on sale or the body is invalid, then 400 naming the field and NOWPayments is not called', async () => {
    const before = providerCalls().length;
    const unknownPlan = await create(user, paymentRequest({ plan: 'platinum' }));
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.errors).toEqual([
      expect.objectContaining({
        field: 'plan',
        in: 'body',
        message: expect.stringMatching(/starter/),
      }),
    ]);
    const invalid = await create(user, { ...paymentRequest(), agent: { name: '' } });
    expect(invalid.status).toBe(400);
    expect((invalid.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(['agent.name', 'agent.instructions']),
    );
    const badKey = await create(user, paymentRequest(), 'spaces are not allowed');
    expect(badKey.status).toBe(400);
    expect(badKey.body.errors).toEqual([expect.objectContaining({ in: 'header' })]);
    expect(providerCalls().length).toBe(before);
  });

  test('when nobody is signed in, then 401 and NOWPayments is not called', async () => {
    const before = providerCalls().length;
    const res = await h.api().post('/payments/create').send(paymentRequest());
    expect(res.status).toBe(401);
    const forged = await h
      .api()
      .post('/payments/create')
      .set('Authorization', `Bearer ${user.token.slice(0, -4)}AAAA`)
      .send(paymentRequest());
    expect(forged.status).toBe(401);
    expect(providerCalls().length).toBe(before);
  });

  test('when a payment is created, then the client can read it at once and it asks NOWPayments with the catalogue price', async () => {
    // a price in the request is not ours to take; the sandbox leaves the payment where it is,
    // so what is read is what was created (its default scenario could have paid it meanwhile)
    const res = await create(
      user,
      paymentRequest({
        ...scenario('manual'),
        plan: 'pro',
        autoDeploy: false,
        priceAmount: 1,
        priceCurrency: 'usd',
      }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/payments/${res.body.id}`);
    const read = await h
      .api()
      .get(`/payments/${res.body.id}`)
      .set('Authorization', user.authorization);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      plan: 'pro',
      priceAmount: 199,
      autoDeploy: false,
      status: 'waiting',
    });
    expect(providerCalls().at(-1)!.body).toMatchObject({
      order_id: res.body.id,
      price_amount: 199,
    });
  });

  test('when NOWPayments’ first IPN overtakes its answer to our create call, then the IPN is not lost', async () => {
    board.mode = 'slow';
    const res = await create(user, paymentRequest(scenario('paid')));
    expect(res.status).toBe(201);
    const paymentId = res.body.id as string;
    // the first IPN reached us before the answer did
    const firstAttempt = await eventually('the first IPN attempt', () => {
      const attempt = h.sandbox.deliveries({ orderId: paymentId })[0]?.attempts[0];
      expect(attempt).toBeDefined();
      return attempt!;
    });
    expect(Date.parse(firstAttempt.at)).toBeLessThan(Date.parse(res.body.createdAt));

    await eventually('the payment history to reach finished', async () => {
      const detail = await h
        .api()
        .get(`/payments/${paymentId}`)
        .set('Authorization', user.authorization);
      expect(historyOf(detail.body)).toEqual([
        'waiting',
        'confirming',
        'confirmed',
        'sending',
        'finished',
      ]);
    });
    expect(h.logs).not.toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: 'nowpayments report for an unknown payment',
          paymentId,
        }),
      ]),
    );
  });

  test('when the request holding a key died, then the next one with the key takes over: it finishes that payment, or finds it recorded', async () => {
    const pool = h.service.host.database.pool;
    const body = paymentRequest();
    // the hash of a body is the service's business: take it from a first, finished request
    const probeKey = randomUUID();
    await create(user, body, probeKey);
    const { rows } = await pool.query<{ request_hash: string }>(
      'SELECT request_hash FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [user.userId, probeKey],
    );
    // died before NOWPayments answered: the next request opens the payment under the same id
    const lostKey = randomUUID();
    const lostPaymentId = randomUUID();
    await pool.query(
      `INSERT INTO idempotency_keys (user_id, key, request_hash, payment_id, state, lease_until)
       VALUES ($1, $2, $3, $4, 'pending', now() - interval '1 second')`,
      [user.userId, lostKey, rows[0]!.request_hash, lostPaymentId],
    );
    const takenOver = await create(user, body, lostKey);
    expect(takenOver.status).toBe(201);
    expect(takenOver.body.id).toBe(lostPaymentId);
    expect(providerCalls().at(-1)!.body).toMatchObject({ order_id: lostPaymentId });

    // died after recording its payment, before storing the answer: no second NOWPayments call
    await pool.query(
      `UPDATE idempotency_keys SET state = 'pending', response = NULL,
         lease_until = now() - interval '1 second' WHERE key = $1`,
      [lostKey],
    );
    const before = providerCalls().length;
    const found = await create(user, body, lostKey);
    expect(found.status).toBe(201);
    expect(found.body).toEqual(takenOver.body);
    expect(providerCalls().length).toBe(before);
  });
});

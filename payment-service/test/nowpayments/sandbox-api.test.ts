import { eventually } from '@meetmatt/infra/testing';
import { randomUUID } from 'node:crypto';
import { verifyIpnSignature } from '../../src/nowpayments/signature';
import {
  API_KEY,
  IPN_SECRET,
  type Receiver,
  type SandboxHarness,
  startReceiver,
  startSandbox,
} from '../support/nowpayments-sandbox';

/** Raw HTTP against the sandbox, to check the wire itself (field names, types, error bodies). */
describe('NOWPayments sandbox API on the wire', () => {
  let harness: SandboxHarness;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    harness = await startSandbox({ stepMs: 5 });
  });
  afterAll(async () => {
    await harness.stop();
    await receiver.close();
  });

  async function call(
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; key?: string | null } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.key !== null) headers['x-api-key'] = options.key ?? API_KEY;
    const body =
      options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await fetch(`${harness.url}${path}`, {
      method,
      headers,
      ...(body ? { body } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function paymentBody(overrides: Record<string, unknown> = {}) {
    return {
      price_amount: 100,
      price_currency: 'usd',
      pay_currency: 'btc',
      order_id: `pay_${randomUUID()}`,
      order_description: '[sandbox:manual]',
      ipn_callback_url: receiver.url,
      ...overrides,
    };
  }

  const errorBody = (statusCode: number, code: string, message: unknown = expect.any(String)) => ({
    status: false,
    statusCode,
    code,
    message,
  });

  it('when the status is asked without a key, then it answers {"message":"OK"}', async () => {
    expect(await call('GET', '/v1/status', { key: null })).toEqual({
      status: 200,
      body: { message: 'OK' },
    });
  });

  it('when a payment is created, then it answers 201 with every documented field and a string payment_id', async () => {
    const request = paymentBody();
    const { status, body } = await call('POST', '/v1/payment', { body: request });
    expect(status).toBe(201);
    expect(body).toEqual({
      payment_id: expect.stringMatching(/^\d{10}$/),
      payment_status: 'waiting',
      pay_address: expect.stringMatching(/^bc1q/),
      pay_amount: 0.00166667,
      pay_currency: 'btc',
      price_amount: 100,
      price_currency: 'usd',
      order_id: request.order_id,
      order_description: '[sandbox:manual]',
      ipn_callback_url: receiver.url,
      purchase_id: expect.stringMatching(/^\d+$/),
      payin_extra_id: null,
      network: 'btc',
      is_fixed_rate: false,
      is_fee_paid_by_user: false,
      expiration_estimate_date: expect.any(String),
      valid_until: expect.any(String),
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const days =
      (Date.parse(body.valid_until as string) - Date.parse(body.created_at as string)) / 86_400_000;
    expect(days).toBe(7);
  });

  it('when a payment is read, then payment_id is a number and the paid amounts are there', async () => {
    const created = await call('POST', '/v1/payment', { body: paymentBody() });
    const { status, body } = await call('GET', `/v1/payment/${created.body.payment_id as string}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      payment_id: Number(created.body.payment_id),
      payment_status: 'waiting',
      pay_address: created.body.pay_address,
      actually_paid: 0,
      outcome_amount: expect.any(Number),
      outcome_currency: 'btc',
      invoice_id: null,
    });
  });

  it.each([
    ['eth', /^0x[0-9a-f]{40}$/, 'eth', false],
    ['usdttrc20', /^T[1-9A-HJ-NP-Za-km-z]{33}$/, 'trx', false],
    ['ltc', /^ltc1q[a-z0-9]{38}$/, 'ltc', false],
    ['xrp', /^r[1-9A-HJ-NP-Za-km-z]{33}$/, 'xrp', true],
    ['xlm', /^G[A-Z2-7]{55}$/, 'xlm', true],
  ])(
    'when paying with %s, then the address, network and memo look like that coin',
    async (coin, address, network, memo) => {
      const { body } = await call('POST', '/v1/payment', {
        body: paymentBody({ pay_currency: coin }),
      });
      expect(body.pay_address).toMatch(address);
      expect(body.network).toBe(network);
      expect(body.payin_extra_id === null).toBe(!memo);
    },
  );

  it('when the price is in eur and pay_currency is upper case, then both are accepted and converted', async () => {
    const { status, body } = await call('POST', '/v1/payment', {
      body: paymentBody({ price_amount: 50, price_currency: 'EUR', pay_currency: 'USDTTRC20' }),
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      price_currency: 'eur',
      pay_currency: 'usdttrc20',
      pay_amount: 54,
    });
  });

  it.each([
    ['price_amount is missing', { price_amount: undefined }, '"price_amount" is required'],
    ['price_amount is a string', { price_amount: 'ten' }, '"price_amount" must be a number'],
    [
      'pay_currency is unknown',
      { pay_currency: 'abc' },
      '"pay_currency" is not a supported currency',
    ],
    [
      'the callback is not a URL',
      { ipn_callback_url: 'not a url' },
      '"ipn_callback_url" must be a valid http(s) uri',
    ],
    [
      'case is unknown',
      { case: 'common' },
      '"case" must be one of [success, failed, partially_paid]',
    ],
  ])('when %s, then it answers 400 INVALID_REQUEST_PARAMS', async (_, overrides, message) => {
    const { status, body } = await call('POST', '/v1/payment', { body: paymentBody(overrides) });
    expect(status).toBe(400);
    expect(body).toEqual(errorBody(400, 'INVALID_REQUEST_PARAMS', message));
  });

  it('when the body is not JSON, then it answers the documented 400 body, and the call is recorded', async () => {
    const { status, body } = await call('POST', '/v1/payment', { raw: '{"price_amount": ' });
    expect(status).toBe(400);
    expect(body).toEqual(errorBody(400, 'INVALID_REQUEST_PARAMS'));
    expect(harness.sandbox.calls().at(-1)).toMatchObject({
      method: 'POST',
      path: '/v1/payment',
      status: 400,
    });
  });

  it('when the key is missing or wrong, then every call but status answers 403 INVALID_API_KEY', async () => {
    for (const key of [null, 'wrong']) {
      for (const [method, path] of [
        ['POST', '/v1/payment'],
        ['GET', '/v1/payment/1'],
        ['GET', '/v1/currencies'],
        ['POST', '/v1/invoice'],
      ] as const) {
        const body = method === 'POST' ? paymentBody() : undefined;
        const answer = await call(method, path, { key, body });
        expect([method, path, answer]).toEqual([
          method,
          path,
          { status: 403, body: errorBody(403, 'INVALID_API_KEY', 'Invalid api key') },
        ]);
      }
    }
  });

  it('when a payment id is unknown or not a number, then it answers 404 NOT_FOUND or 400', async () => {
    expect(await call('GET', '/v1/payment/12345')).toEqual({
      status: 404,
      body: errorBody(404, 'NOT_FOUND', 'Payment not found'),
    });
    expect(await call('GET', '/v1/payment/abc')).toEqual({
      status: 400,
      body: errorBody(400, 'INVALID_REQUEST_PARAMS', 'must be a number'),
    });
  });

  it('when a /v1 path does not exist, then it answers the documented 404 body', async () => {
    expect(await call('GET', '/v1/payouts')).toEqual({
      status: 404,
      body: errorBody(404, 'NOT_FOUND'),
    });
  });

  it('when estimate and min-amount are asked, then they answer from the rate table', async () => {
    expect(
      (await call('GET', '/v1/estimate?amount=300&currency_from=usd&currency_to=eth')).body,
    ).toEqual({
      currency_from: 'usd',
      amount_from: 300,
      currency_to: 'eth',
      estimated_amount: 0.1,
    });
    expect((await call('GET', '/v1/min-amount?currency_from=btc&currency_to=usd')).body).toEqual({
      currency_from: 'btc',
      currency_to: 'usd',
      min_amount: 0.00001667,
    });
    const bad = await call('GET', '/v1/estimate?amount=-1&currency_from=usd&currency_to=eth');
    expect(bad).toEqual({
      status: 400,
      body: errorBody(400, 'INVALID_REQUEST_PARAMS', '"amount" must be greater than 0'),
    });
  });

  it('when an invoice is created and then paid, then the payment carries invoice_id in GET and in its IPNs', async () => {
    const orderId = `pay_${randomUUID()}`;
    const created = await call('POST', '/v1/invoice', {
      body: {
        price_amount: 12.5,
        price_currency: 'usd',
        order_id: orderId,
        ipn_callback_url: receiver.url,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^\d+$/),
      price_amount: '12.5',
      order_id: orderId,
    });
    const invoiceId = created.body.id as string;
    expect(harness.sandbox.payments().filter((p) => p.order_id === orderId)).toEqual([]);

    const paid = await fetch(`${harness.url}/sandbox/invoices/${invoiceId}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payCurrency: 'ltc', markers: '[sandbox:expired]' }),
    });
    expect(paid.status).toBe(201);
    const payment = (await paid.json()) as { payment_id: number };
    await eventually('the expired IPN', () => receiver.forOrder(orderId)[0] ?? false);
    const [ipn] = receiver.forOrder(orderId);
    expect(ipn!.body).toMatchObject({
      invoice_id: Number(invoiceId),
      payment_status: 'expired',
      pay_currency: 'ltc',
    });
    expect(verifyIpnSignature(ipn!.body, ipn!.headers['x-nowpayments-sig'], IPN_SECRET)).toBe(true);
    expect((await call('GET', `/v1/payment/${payment.payment_id}`)).body.invoice_id).toBe(
      Number(invoiceId),
    );
    const page = (await (await fetch(`${harness.url}/sandbox/invoices/${invoiceId}`)).json()) as {
      payments: unknown[];
    };
    expect(page.payments).toHaveLength(1);
  });

  it('when the control API lists calls, payments and IPNs, then it shows what happened without the key', async () => {
    const request = paymentBody({ order_description: '[sandbox:expired]' });
    const created = await call('POST', '/v1/payment', { body: request });
    await eventually('the IPN', () => receiver.forOrder(request.order_id)[0] ?? false);
    const get = async (path: string) =>
      (await fetch(`${harness.url}${path}`)).json() as Promise<Record<string, unknown[]>>;

    const { calls } = await get('/sandbox/calls?path=/v1/payment');
    expect(calls).toContainEqual(
      expect.objectContaining({ method: 'POST', status: 201, apiKey: 'valid', body: request }),
    );
    expect(JSON.stringify(calls)).not.toContain(API_KEY);
    const { payments } = await get(`/sandbox/payments?orderId=${request.order_id}`);
    expect(payments).toEqual([
      expect.objectContaining({
        payment_id: Number(created.body.payment_id),
        payment_status: 'expired',
        scenario: expect.objectContaining({ outcome: 'expired' }),
      }),
    ]);
    await eventually(
      'a delivered IPN',
      () =>
        harness.sandbox
          .deliveries({ orderId: request.order_id })
          .find((d) => d.state === 'delivered') ?? false,
    );
    const { deliveries } = await get(`/sandbox/ipns?orderId=${request.order_id}`);
    expect(deliveries).toEqual([
      expect.objectContaining({
        status: 'expired',
        state: 'delivered',
        attempts: [expect.objectContaining({ statusCode: 200 })],
      }),
    ]);
    const { markers } = await get('/sandbox/scenarios');
    expect(markers).toEqual(
      expect.arrayContaining([
        '[sandbox:expired]',
        '[sandbox:duplicate]',
        '[sandbox:reverse]',
        '[sandbox:lost-ipn]',
        '[sandbox:manual]',
      ]),
    );
  });

  it('when the control API is asked about something unknown, then it answers 404 or 400', async () => {
    expect(
      (await fetch(`${harness.url}/sandbox/payments/1/status`, { method: 'POST' })).status,
    ).toBe(404);
    expect(
      (await fetch(`${harness.url}/sandbox/ipns/ipn_0/resend`, { method: 'POST' })).status,
    ).toBe(404);
    expect((await fetch(`${harness.url}/sandbox/nothing`)).status).toBe(404);
    const created = await call('POST', '/v1/payment', { body: paymentBody() });
    const wrong = await fetch(
      `${harness.url}/sandbox/payments/${created.body.payment_id as string}/status`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'teleported' }),
      },
    );
    expect(wrong.status).toBe(400);
  });
});

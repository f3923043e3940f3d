import { type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';
import { captureLogger } from '@meetmatt/infra/testing';
import { NowPaymentsClient } from '../../src/nowpayments/client';
import { NowPaymentsError } from '../../src/nowpayments/errors';
import {
  API_KEY,
  type SandboxHarness,
  paymentInput,
  startSandbox,
} from '../support/nowpayments-sandbox';

const WEBHOOK = 'http://127.0.0.1:9/webhooks/nowpayments';

/** A server whose every answer is decided by the test (or never comes). */
async function startFakeProvider(
  handle: (res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => handle(res));
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function failure(promise: Promise<unknown>): Promise<NowPaymentsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof NowPaymentsError) return error;
    throw error;
  }
  throw new Error('expected a NowPaymentsError');
}

describe('NowPaymentsClient against the sandbox', () => {
  let harness: SandboxHarness;
  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 60_000 });
  });
  afterAll(() => harness.stop());

  it('when the status is asked, then the API answers OK without the key being sent', async () => {
    await expect(harness.client.status()).resolves.toEqual({ message: 'OK' });
    const call = harness.sandbox.calls().find((c) => c.path === '/v1/status');
    expect(call?.apiKey).toBe('missing');
  });

  it('when a payment is created, then our id and webhook are sent and the string payment_id is kept', async () => {
    const input = paymentInput(WEBHOOK, { orderDescription: 'Pro plan', purchaseId: undefined });
    const payment = await harness.client.createPayment(input);

    expect(payment).toMatchObject({
      status: 'waiting',
      payCurrency: 'btc',
      priceAmount: 49,
      priceCurrency: 'usd',
      orderId: input.orderId,
      orderDescription: 'Pro plan',
      ipnCallbackUrl: WEBHOOK,
      payinExtraId: null,
      network: 'btc',
    });
    expect(payment.paymentId).toMatch(/^\d{10}$/);
    expect(payment.payAmount).toBeCloseTo(49 / 60_000, 8);
    expect(payment.payAddress).toMatch(/^bc1q[a-z0-9]{38}$/);
    expect(Date.parse(payment.validUntil!)).toBeGreaterThan(Date.parse(payment.createdAt!));
    const call = harness.sandbox
      .calls()
      .find(
        (c) =>
          c.path === '/v1/payment' &&
          c.method === 'POST' &&
          (c.body as { order_id?: string }).order_id === input.orderId,
      );
    expect(call).toMatchObject({ status: 201, apiKey: 'valid' });
    expect(call?.body).toEqual({
      price_amount: 49,
      price_currency: 'usd',
      pay_currency: 'btc',
      ipn_callback_url: WEBHOOK,
      order_id: input.orderId,
      order_description: 'Pro plan',
    });
  });

  it('when a payment is read back, then the numeric payment_id becomes the same string', async () => {
    const created = await harness.client.createPayment(paymentInput(WEBHOOK));
    const details = await harness.client.getPayment(created.paymentId);
    expect(details.paymentId).toBe(created.paymentId);
    expect(typeof details.paymentId).toBe('string');
    expect(details).toMatchObject({
      status: 'waiting',
      actuallyPaid: 0,
      outcomeCurrency: 'btc',
      invoiceId: null,
      parentPaymentId: null,
      payAddress: created.payAddress,
    });
    const raw = harness.sandbox.payment(created.paymentId);
    expect(typeof raw?.payment_id).toBe('number');
  });

  it('when a memo coin is chosen, then the payment carries its payin_extra_id', async () => {
    const payment = await harness.client.createPayment(
      paymentInput(WEBHOOK, { payCurrency: 'xrp' }),
    );
    expect(payment.payinExtraId).toMatch(/^\d+$/);
    expect(payment.network).toBe('xrp');
  });

  it('when the sandbox case is given, then it reaches the provider as `case`', async () => {
    const input = paymentInput(WEBHOOK, { case: 'partially_paid' });
    const payment = await harness.client.createPayment(input);
    expect(harness.sandbox.payment(payment.paymentId)?.scenario.outcome).toBe('partially_paid');
  });

  it('when an invoice is created, then its string id and string price_amount are normalised', async () => {
    const invoice = await harness.client.createInvoice({
      orderId: 'order-invoice-1',
      priceAmount: 19.99,
      priceCurrency: 'usd',
      ipnCallbackUrl: WEBHOOK,
    });
    expect(invoice).toMatchObject({
      orderId: 'order-invoice-1',
      priceAmount: 19.99,
      payCurrency: null,
    });
    expect(invoice.invoiceId).toMatch(/^\d+$/);
    expect(invoice.invoiceUrl).toBe(`${harness.url}/sandbox/invoices/${invoice.invoiceId}`);
  });

  it('when an estimate, a minimum amount and the currencies are asked, then they are parsed', async () => {
    const estimate = await harness.client.estimate({
      amount: 120,
      currencyFrom: 'usd',
      currencyTo: 'eth',
    });
    expect(estimate).toEqual({ currencyFrom: 'usd', currencyTo: 'eth', estimatedAmount: 0.04 });
    const minimum = await harness.client.minAmount({
      currencyFrom: 'usdttrc20',
      currencyTo: 'usd',
    });
    expect(minimum).toEqual({ currencyFrom: 'usdttrc20', currencyTo: 'usd', minAmount: 1 });
    const currencies = await harness.client.currencies();
    expect(currencies).toEqual(expect.arrayContaining(['btc', 'eth', 'usdttrc20', 'xrp', 'xlm']));
  });

  it('when the request is invalid, then the documented error body becomes a typed error', async () => {
    const error = await failure(
      harness.client.createPayment(paymentInput(WEBHOOK, { priceAmount: -5 })),
    );
    expect(error).toMatchObject({
      kind: 'http',
      httpStatus: 400,
      code: 'INVALID_REQUEST_PARAMS',
      detail: '"price_amount" must be greater than 0',
      method: 'POST',
      path: '/v1/payment',
      retryable: false,
    });
    expect(error.message).toBe(
      'NOWPayments POST /v1/payment answered 400 INVALID_REQUEST_PARAMS: "price_amount" must be greater than 0',
    );
  });

  it('when the amount is below the minimum, then the provider code says so', async () => {
    const error = await failure(
      harness.client.createPayment(paymentInput(WEBHOOK, { priceAmount: 0.5 })),
    );
    expect(error).toMatchObject({ httpStatus: 400, code: 'AMOUNT_MINIMAL_ERROR' });
  });

  it('when the payment id is unknown, then a 404 NOT_FOUND error is thrown', async () => {
    const error = await failure(harness.client.getPayment('1234567'));
    expect(error).toMatchObject({
      kind: 'http',
      httpStatus: 404,
      code: 'NOT_FOUND',
      path: '/v1/payment/1234567',
    });
  });

  it('when the API key is wrong, then a 403 INVALID_API_KEY error is thrown and the key appears nowhere', async () => {
    const { logger, text } = captureLogger();
    const wrongKey = 'wrong-key-abcdef';
    const client = new NowPaymentsClient({ apiUrl: harness.url, apiKey: wrongKey, logger });
    const error = await failure(client.getPayment('1'));
    expect(error).toMatchObject({ kind: 'http', httpStatus: 403, code: 'INVALID_API_KEY' });
    expect(harness.sandbox.calls().at(-1)?.apiKey).toBe('invalid');
    const everything = `${error.message} ${JSON.stringify(error)} ${text()}`;
    expect(everything).not.toContain(wrongKey);
    expect(JSON.stringify(harness.sandbox.calls())).not.toContain(API_KEY);
  });

  it('when calls are made, then each is logged with method, path, status and duration, without secrets', async () => {
    const { logger, entries, text } = captureLogger();
    const client = new NowPaymentsClient({ apiUrl: `${harness.url}/v1/`, apiKey: API_KEY, logger });
    const payment = await client.createPayment(paymentInput(WEBHOOK));
    await failure(client.getPayment('999'));
    expect(entries.map((e) => [e.level, e.message, e.method, e.path, e.status])).toEqual([
      ['info', 'nowpayments call', 'POST', '/v1/payment', 201],
      ['warn', 'nowpayments call failed', 'GET', '/v1/payment/999', 404],
    ]);
    expect(entries.every((e) => typeof e.durationMs === 'number')).toBe(true);
    expect(text()).not.toContain(API_KEY);
    expect(payment.paymentId).toBeTruthy();
  });
});

describe('NowPaymentsClient when the provider misbehaves', () => {
  it('when the server never answers, then the call times out as a retryable timeout', async () => {
    const provider = await startFakeProvider(() => undefined);
    try {
      const client = new NowPaymentsClient({
        apiUrl: provider.url,
        apiKey: API_KEY,
        timeoutMs: 100,
      });
      const started = Date.now();
      const error = await failure(client.status());
      expect(error).toMatchObject({ kind: 'timeout', httpStatus: undefined, retryable: true });
      expect(error.message).toBe('NOWPayments GET /v1/status timed out: no answer within 100 ms');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await provider.close();
    }
  });

  it('when nothing listens, then the call fails as a retryable network error', async () => {
    const provider = await startFakeProvider(() => undefined);
    await provider.close();
    const client = new NowPaymentsClient({
      apiUrl: provider.url,
      apiKey: API_KEY,
      timeoutMs: 1_000,
    });
    const error = await failure(client.status());
    expect(error).toMatchObject({ kind: 'network', retryable: true });
  });

  it('when a gateway answers 502 with HTML, then it is an http error without a provider code', async () => {
    const provider = await startFakeProvider((res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>');
    });
    try {
      const client = new NowPaymentsClient({ apiUrl: provider.url, apiKey: API_KEY });
      const error = await failure(client.getPayment('1'));
      expect(error).toMatchObject({
        kind: 'http',
        httpStatus: 502,
        code: undefined,
        detail: 'HTTP 502',
        retryable: true,
      });
    } finally {
      await provider.close();
    }
  });

  it('when a 2xx body is not the documented shape, then it is a bad-response error naming the field', async () => {
    const provider = await startFakeProvider((res) => {
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end('{"payment_id":"1","payment_status":"waiting"}');
    });
    try {
      const client = new NowPaymentsClient({ apiUrl: provider.url, apiKey: API_KEY });
      const error = await failure(client.createPayment(paymentInput(WEBHOOK)));
      expect(error).toMatchObject({ kind: 'bad-response', httpStatus: 201, retryable: false });
      expect(error.detail).toContain('pay_address');
    } finally {
      await provider.close();
    }
  });

  it('when a 2xx body is not JSON, then it is a bad-response error', async () => {
    const provider = await startFakeProvider((res) => {
      res.writeHead(200).end('OK');
    });
    try {
      const client = new NowPaymentsClient({ apiUrl: provider.url, apiKey: API_KEY });
      const error = await failure(client.status());
      expect(error).toMatchObject({ kind: 'bad-response', detail: 'not JSON' });
    } finally {
      await provider.close();
    }
  });

  it('when the provider echoes the API key in its message, then the error hides it', async () => {
    const provider = await startFakeProvider((res) => {
      const body = {
        status: false,
        statusCode: 401,
        code: 'INVALID_API_KEY',
        message: `key ${API_KEY} is unknown`,
      };
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      const client = new NowPaymentsClient({ apiUrl: provider.url, apiKey: API_KEY });
      const error = await failure(client.currencies());
      expect(error.detail).toBe('key [redacted] is unknown');
      expect(error.message).not.toContain(API_KEY);
    } finally {
      await provider.close();
    }
  });
});

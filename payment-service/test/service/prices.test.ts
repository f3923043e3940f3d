import { type PayCurrencyList, type PriceEstimate } from '@meetmatt/contracts';
import { type PaymentHarness, startPaymentHarness } from '../support/harness';

/** The sandbox's answers: 1 USD is its minimum payment, a coin's price is its fixed rate. */
const BTC_USD = 60_000;
const ETH_USD = 3_000;
const XRP_USD = 0.5;
const round = (amount: number, decimals: number) =>
  Math.round(amount * 10 ** decimals) / 10 ** decimals;

describe('payment-service: coins and price estimates (GET /payments/currencies, /payments/estimate)', () => {
  let h: PaymentHarness;
  const calls = (path: string) => h.sandbox.calls().filter((c) => c.path === path);

  beforeAll(async () => {
    // zzz is well formed but NOWPayments does not offer it: left out of the list.
    h = await startPaymentHarness({ env: { PAYMENT_CURRENCIES: 'btc,eth,xrp,zzz' } });
  });

  afterAll(async () => {
    await h?.stop();
  });

  test('when the coins are listed, then those we accept that NOWPayments offers, each with its minimum, without a credential', async () => {
    const res = await h.api().get('/payments/currencies');
    expect(res.status).toBe(200);
    const body = res.body as PayCurrencyList;
    expect(body.currencies).toEqual([
      { code: 'btc', minAmount: round(1 / BTC_USD, 8) },
      { code: 'eth', minAmount: round(1 / ETH_USD, 8) },
      { code: 'xrp', minAmount: round(1 / XRP_USD, 6) },
    ]);
    expect(Date.parse(body.fetchedAt)).not.toBeNaN();
    expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    expect(calls('/v1/currencies')).toHaveLength(1);
    expect(calls('/v1/min-amount').map((c) => c.query)).toEqual(
      expect.arrayContaining([
        { currency_from: 'btc', currency_to: 'btc' },
        { currency_from: 'eth', currency_to: 'eth' },
        { currency_from: 'xrp', currency_to: 'xrp' },
      ]),
    );
  });

  test('when the coins are listed again within the TTL, then the cache answers and NOWPayments is not asked', async () => {
    const before = h.sandbox.calls().length;
    const again = await Promise.all([1, 2, 3].map(() => h.api().get('/payments/currencies')));
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(h.sandbox.calls().length).toBe(before);
  });

  test('when a plan is priced in a coin, then the estimate comes from NOWPayments for the plan’s price', async () => {
    const res = await h.api().get('/payments/estimate').query({ plan: 'pro', payCurrency: 'eth' });
    expect(res.status).toBe(200);
    expect(res.body as PriceEstimate).toEqual({
      plan: 'pro',
      priceAmount: 199,
      priceCurrency: 'usd',
      payCurrency: 'eth',
      estimatedAmount: round(199 / ETH_USD, 8),
      fetchedAt: expect.any(String),
    });
    expect(calls('/v1/estimate').map((c) => c.query)).toEqual([
      { amount: '199', currency_from: 'usd', currency_to: 'eth' },
    ]);
  });

  test('when many ask for the same estimate at once, then NOWPayments is asked once (single flight), and not again while it is fresh', async () => {
    const before = calls('/v1/estimate').length;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        h.api().get('/payments/estimate').query({ plan: 'enterprise', payCurrency: 'btc' }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(answers.map((r) => (r.body as PriceEstimate).estimatedAmount))).toEqual(
      new Set([round(999 / BTC_USD, 8)]),
    );
    expect(calls('/v1/estimate').length).toBe(before + 1);
    await h.api().get('/payments/estimate').query({ plan: 'enterprise', payCurrency: 'btc' });
    expect(calls('/v1/estimate').length).toBe(before + 1);
  });

  test.each([
    [{ plan: 'platinum', payCurrency: 'btc' }, 'plan', /no plan "platinum"; on sale: starter/],
    [{ payCurrency: 'btc' }, 'plan', /./],
    [{ plan: 'starter', payCurrency: 'doge' }, 'payCurrency', /supported: btc, eth, xrp, zzz/],
    [{ plan: 'starter', payCurrency: 'BTC!' }, 'payCurrency', /crypto ticker/],
    [{ plan: 'starter' }, 'payCurrency', /./],
  ])(
    'when the estimate is asked with %j, then 400 naming %s and NOWPayments is not asked',
    async (query, field, message) => {
      const before = h.sandbox.calls().length;
      const res = await h.api().get('/payments/estimate').query(query);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const errors = (res.body as { errors: { field: string; in: string; message: string }[] })
        .errors;
      expect(errors).toEqual([expect.objectContaining({ field, in: 'query' })]);
      expect(errors[0]!.message).toMatch(message);
      expect(h.sandbox.calls().length).toBe(before);
    },
  );
});

describe('payment-service: coins and estimates while NOWPayments is down', () => {
  let h: PaymentHarness;

  beforeAll(async () => {
    // Nothing listens on port 1: every NOWPayments call fails to connect.
    h = await startPaymentHarness({ env: { NOWPAYMENTS_API_URL: 'http://127.0.0.1:1' } });
  });

  afterAll(async () => {
    await h?.stop();
  });

  test.each([
    ['/payments/currencies', {}],
    ['/payments/estimate', { plan: 'starter', payCurrency: 'btc' }],
  ])(
    'when %s is asked, then 503 problem+json with Retry-After, not 500, and the failure is logged',
    async (route, query) => {
      const res = await h.api().get(route).query(query);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toBe('10');
      expect(res.body).toMatchObject({ status: 503, type: expect.stringContaining('provider') });
      expect(h.logText()).toContain('nowpayments call failed');
    },
  );
});

import { defaultPlans } from '@meetmatt/contracts';
import { ConfigError } from '@meetmatt/infra';
import {
  DEVELOPMENT_SELLER,
  SANDBOX_API_KEY,
  SANDBOX_IPN_SECRET,
  loadPaymentConfig,
} from '../src/config';

describe('payment-service configuration', () => {
  test('when nothing is set, then it talks to the local sandbox with the sandbox’s key and secret', () => {
    const config = loadPaymentConfig({});
    expect(config).toMatchObject({
      PORT: 3001,
      NOWPAYMENTS_API_URL: 'http://127.0.0.1:3101',
      NOWPAYMENTS_API_KEY: SANDBOX_API_KEY,
      NOWPAYMENTS_IPN_SECRET: SANDBOX_IPN_SECRET,
      plans: defaultPlans,
    });
    expect(config.NOWPAYMENTS_IPN_CALLBACK_URL).toBeUndefined();
  });

  test('when NODE_ENV=production, then the NOWPayments key and IPN secret are required, and a key never goes with the sandbox’s secret', () => {
    expect(() => loadPaymentConfig({ NODE_ENV: 'production' })).toThrow(
      /NOWPAYMENTS_API_KEY is missing: required when NODE_ENV=production/,
    );
    expect(() =>
      loadPaymentConfig({ NODE_ENV: 'production', NOWPAYMENTS_API_KEY: 'live-key' }),
    ).toThrow(/NOWPAYMENTS_IPN_SECRET/);
    expect(() => loadPaymentConfig({ NOWPAYMENTS_API_KEY: 'real-sandbox-key' })).toThrow(
      /NOWPAYMENTS_IPN_SECRET is missing: required when NOWPAYMENTS_API_KEY is set/,
    );
    const config = loadPaymentConfig({
      NODE_ENV: 'production',
      NOWPAYMENTS_API_KEY: 'live-key',
      NOWPAYMENTS_IPN_SECRET: 'live-secret',
      // production also wants the service's own database and broker accounts
      DATABASE_URL: 'postgres://meetmatt_payment:Xk29fj@postgres:5432/meetmatt_payment',
      RABBITMQ_URL: 'amqp://payment-service:Pq81nd@rabbitmq:5672',
      INVOICE_SELLER_NAME: 'Meet Matt SAS',
      INVOICE_SELLER_ADDRESS: '12 rue de la Paix\\n75002 Paris\\nFrance',
    });
    expect(config.NOWPAYMENTS_API_KEY).toBe('live-key');
  });

  test('when the seller is not set, then development prints the default seller and production refuses to start, naming each variable', () => {
    const defaults = loadPaymentConfig({});
    expect(defaults.INVOICE_SELLER_NAME).toBe(DEVELOPMENT_SELLER.name);
    expect(defaults.INVOICE_SELLER_ADDRESS).toBe(DEVELOPMENT_SELLER.address);
    expect(defaults.INVOICE_SELLER_TAX_ID).toBeUndefined();
    const production = {
      NODE_ENV: 'production',
      NOWPAYMENTS_API_KEY: 'live-key',
      NOWPAYMENTS_IPN_SECRET: 'live-secret',
      DATABASE_URL: 'postgres://meetmatt_payment:Xk29fj@postgres:5432/meetmatt_payment',
      RABBITMQ_URL: 'amqp://payment-service:Pq81nd@rabbitmq:5672',
    };
    expect(() => loadPaymentConfig(production)).toThrow(
      /INVOICE_SELLER_NAME is missing: required when NODE_ENV=production/,
    );
    expect(() => loadPaymentConfig(production)).toThrow(
      /INVOICE_SELLER_ADDRESS is missing: required when NODE_ENV=production/,
    );
    expect(() =>
      loadPaymentConfig({ ...production, INVOICE_SELLER_NAME: 'Meet Matt SAS' }),
    ).toThrow(/INVOICE_SELLER_ADDRESS/);
  });

  test('when the seller address has line breaks or \\n escapes, then it is kept one line per line, trimmed, and the tax ID is read', () => {
    const config = loadPaymentConfig({
      INVOICE_SELLER_NAME: '  Meet Matt SAS ',
      INVOICE_SELLER_ADDRESS: '12 rue de la Paix \\n 75002 Paris\r\nFrance\n',
      INVOICE_SELLER_TAX_ID: 'FR12345678901',
    });
    expect(config.INVOICE_SELLER_NAME).toBe('Meet Matt SAS');
    expect(config.INVOICE_SELLER_ADDRESS).toBe('12 rue de la Paix\n75002 Paris\nFrance');
    expect(config.INVOICE_SELLER_TAX_ID).toBe('FR12345678901');
    expect(() => loadPaymentConfig({ INVOICE_SELLER_ADDRESS: '\\n \\n' })).toThrow(
      /INVOICE_SELLER_ADDRESS/,
    );
  });

  test('when PLANS_JSON is set, then it replaces the catalogue; when it is wrong, one line names it', () => {
    const plans = [
      {
        id: 'solo',
        name: 'Solo agent',
        priceAmount: 19,
        priceCurrency: 'eur',
        maxAcuLimit: 5,
        description: 'One small agent',
      },
    ];
    expect(loadPaymentConfig({ PLANS_JSON: JSON.stringify(plans) }).plans).toEqual(plans);
    for (const bad of ['not json', '[]', '[{"id":"x"}]', JSON.stringify([...plans, ...plans])]) {
      let error: unknown;
      try {
        loadPaymentConfig({ PLANS_JSON: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('PLANS_JSON');
    }
  });

  test('when a setting is malformed, then one line names it', () => {
    expect(() => loadPaymentConfig({ NOWPAYMENTS_TIMEOUT_MS: 'soon' })).toThrow(
      /NOWPAYMENTS_TIMEOUT_MS is "soon"/,
    );
    expect(() => loadPaymentConfig({ NOWPAYMENTS_IPN_CALLBACK_URL: 'not a url' })).toThrow(
      /NOWPAYMENTS_IPN_CALLBACK_URL/,
    );
  });

  test('when the money settings are left out, then 0.5% may be missing and the sandbox’s coins are on offer; set, they are read; malformed, one line names them', () => {
    const defaults = loadPaymentConfig({});
    expect(defaults.PAYMENT_UNDERPAYMENT_TOLERANCE).toBe(0.005);
    expect(defaults.PAYMENT_CURRENCIES).toEqual(expect.arrayContaining(['btc', 'usdttrc20']));
    const set = loadPaymentConfig({
      PAYMENT_UNDERPAYMENT_TOLERANCE: '0.01',
      PAYMENT_CURRENCIES: ' BTC, eth ,btc',
    });
    expect(set.PAYMENT_UNDERPAYMENT_TOLERANCE).toBe(0.01);
    expect(set.PAYMENT_CURRENCIES).toEqual(['btc', 'eth']);
    expect(() => loadPaymentConfig({ PAYMENT_UNDERPAYMENT_TOLERANCE: '0.9' })).toThrow(
      /PAYMENT_UNDERPAYMENT_TOLERANCE/,
    );
    expect(() => loadPaymentConfig({ PAYMENT_UNDERPAYMENT_TOLERANCE: 'some' })).toThrow(
      /PAYMENT_UNDERPAYMENT_TOLERANCE/,
    );
    expect(() => loadPaymentConfig({ PAYMENT_CURRENCIES: 'btc,doge coin' })).toThrow(
      /PAYMENT_CURRENCIES/,
    );
    expect(() => loadPaymentConfig({ PAYMENT_CURRENCIES: ' , ' })).toThrow(/PAYMENT_CURRENCIES/);
  });
});

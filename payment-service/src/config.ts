import { z } from 'zod';
import { CryptoCurrencySchema, type Plan, PlanSchema, defaultPlans } from '@meetmatt/contracts';
import {
  mailConfig,
  authConfig,
  baseServiceConfig,
  env,
  loadConfig,
  refuseUnsafeProductionSecrets,
} from '@meetmatt/infra';

/** What our NOWPayments sandbox (sandbox-main.ts) accepts by default: local use only. */
export const SANDBOX_API_KEY = 'sandbox-api-key';
export const SANDBOX_IPN_SECRET = 'sandbox-ipn-secret';

const REQUIRED_IN_PRODUCTION = ['NOWPAYMENTS_API_KEY', 'NOWPAYMENTS_IPN_SECRET'] as const;

/** The coins on offer when PAYMENT_CURRENCIES is not set: those our sandbox knows. */
export const DEFAULT_PAY_CURRENCIES = [
  'btc',
  'eth',
  'ltc',
  'usdttrc20',
  'usdterc20',
  'usdc',
  'trx',
  'bnbbsc',
  'sol',
  'doge',
  'xrp',
  'xlm',
] as const;

/** PLANS_JSON: a JSON array of plans replacing the default catalogue. */
const plansJson = z.string().transform((text, ctx): Plan[] => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON array of plans' });
    return z.NEVER;
  }
  const plans = z.array(PlanSchema).min(1, 'expected at least one plan').safeParse(parsed);
  if (!plans.success) {
    const issue = plans.error.issues[0];
    const where = issue?.path.length ? `plan ${issue.path.map(String).join('.')}: ` : '';
    ctx.addIssue({ code: 'custom', message: `${where}${issue?.message ?? 'invalid'}` });
    return z.NEVER;
  }
  const ids = plans.data.map((plan) => plan.id);
  const twice = ids.find((id, index) => ids.indexOf(id) !== index);
  if (twice) {
    ctx.addIssue({ code: 'custom', message: `plan ${twice} is listed twice` });
    return z.NEVER;
  }
  return plans.data;
});

/** The seller on invoices when INVOICE_SELLER_* are not set: development only. */
export const DEVELOPMENT_SELLER = {
  name: 'Meet Matt',
  address: '1 Example Street\n75001 Paris\nFrance',
} as const;

/** Not secrets, but the legal seller: production names its own, never the defaults. */
const SELLER_REQUIRED_IN_PRODUCTION = ['INVOICE_SELLER_NAME', 'INVOICE_SELLER_ADDRESS'] as const;

/** A multi-line address: real line breaks or `\n` escapes, each line trimmed, blank ones dropped. */
const sellerAddress = z
  .string()
  .transform((text) =>
    text
      .replace(/\\n/g, '\n')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
      .join('\n'),
  )
  .pipe(z.string().min(1, 'expected at least one line'));

/** Every setting of the payment service, read once at boot. Documented in .env.example. */
export const paymentConfigSchema = z
  .object({
    ...baseServiceConfig,
    ...authConfig,
    PORT: env.port(3001),
    DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_payment'),
    NOWPAYMENTS_API_URL: env.url('http://127.0.0.1:3101'),
    NOWPAYMENTS_API_KEY: z.string().trim().min(1).optional(),
    NOWPAYMENTS_IPN_SECRET: z.string().trim().min(1).optional(),
    NOWPAYMENTS_IPN_CALLBACK_URL: env.optionalUrl(),
    NOWPAYMENTS_TIMEOUT_MS: env.int(10_000, 100),
    RECONCILER_INTERVAL_MS: env.int(60_000, 0),
    RECONCILER_MIN_AGE_MS: env.int(300_000, 0),
    RECONCILER_BATCH_SIZE: env.int(100, 1),
    /** How long GET /payments/currencies answers from its cache before asking NOWPayments again. */
    PRICE_CURRENCIES_TTL_MS: env.int(600_000, 1),
    /** How long one plan's estimate in one coin (GET /payments/estimate) is kept. */
    PRICE_ESTIMATE_TTL_MS: env.int(60_000, 1),
    /** The seller printed on invoices: required in production, development defaults otherwise. */
    INVOICE_SELLER_NAME: z.string().trim().min(1).optional(),
    /** One line per line; `\n` (backslash, n) also breaks a line, for one-line env files. */
    INVOICE_SELLER_ADDRESS: sellerAddress.optional(),
    /** The seller's VAT or tax number, printed when set. */
    INVOICE_SELLER_TAX_ID: z.string().trim().min(1).optional(),
    PLANS_JSON: plansJson.optional(),
    /** The share of the crypto amount that may be missing and a payment still count as paid. */
    PAYMENT_UNDERPAYMENT_TOLERANCE: z.coerce
      .number({ message: 'expected a number' })
      .min(0)
      .max(0.5)
      .default(0.005),
    /** The coins a customer may pay with: refused before NOWPayments is asked otherwise. */
    PAYMENT_CURRENCIES: z
      .string()
      .default(DEFAULT_PAY_CURRENCIES.join(','))
      .transform((text) =>
        [...new Set(text.split(',').map((c) => c.trim().toLowerCase()))].filter(Boolean),
      )
      .pipe(z.array(CryptoCurrencySchema).min(1, 'expected at least one coin')),
    ...mailConfig,
  })
  .superRefine((config, ctx) => {
    // A real key with the sandbox's IPN secret would refuse every real IPN.
    if (config.NOWPAYMENTS_API_KEY !== undefined && config.NOWPAYMENTS_IPN_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['NOWPAYMENTS_IPN_SECRET'],
        message: 'required when NOWPAYMENTS_API_KEY is set (the IPN secret of the same account)',
      });
    }
    // Outside development: the real NOWPayments secrets, never the sandbox's, and the
    // service's own database and broker accounts.
    refuseUnsafeProductionSecrets(config, ctx, {
      required: [...REQUIRED_IN_PRODUCTION, ...SELLER_REQUIRED_IN_PRODUCTION],
      secrets: REQUIRED_IN_PRODUCTION,
      credentialUrls: ['DATABASE_URL', 'RABBITMQ_URL'],
      refused: [SANDBOX_API_KEY, SANDBOX_IPN_SECRET],
    });
  });

type ParsedConfig = z.infer<typeof paymentConfigSchema>;

export type PaymentConfig = Omit<
  ParsedConfig,
  | 'NOWPAYMENTS_API_KEY'
  | 'NOWPAYMENTS_IPN_SECRET'
  | 'PLANS_JSON'
  | 'INVOICE_SELLER_NAME'
  | 'INVOICE_SELLER_ADDRESS'
> & {
  NOWPAYMENTS_API_KEY: string;
  NOWPAYMENTS_IPN_SECRET: string;
  INVOICE_SELLER_NAME: string;
  /** Lines separated by `\n`. */
  INVOICE_SELLER_ADDRESS: string;
  /** The catalogue: PLANS_JSON, or the defaults from contracts. */
  plans: readonly Plan[];
};

export function loadPaymentConfig(
  source: Record<string, string | undefined> = process.env,
): PaymentConfig {
  const { PLANS_JSON, ...config } = loadConfig(paymentConfigSchema, source);
  return {
    ...config,
    NOWPAYMENTS_API_KEY: config.NOWPAYMENTS_API_KEY ?? SANDBOX_API_KEY,
    NOWPAYMENTS_IPN_SECRET: config.NOWPAYMENTS_IPN_SECRET ?? SANDBOX_IPN_SECRET,
    INVOICE_SELLER_NAME: config.INVOICE_SELLER_NAME ?? DEVELOPMENT_SELLER.name,
    INVOICE_SELLER_ADDRESS: config.INVOICE_SELLER_ADDRESS ?? DEVELOPMENT_SELLER.address,
    plans: PLANS_JSON ?? defaultPlans,
  };
}

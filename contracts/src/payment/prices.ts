import { z } from 'zod';
import { CryptoCurrencySchema, FiatCurrencySchema, TimestampSchema } from '../common';
import { type EndpointDef, ProblemSchema, defineEndpoint, problems } from '../http';

const unavailable = {
  description:
    'NOWPayments is not answering (down, slow or failing) and nothing fresh is cached; retry after Retry-After seconds',
  schema: ProblemSchema,
  contentType: 'application/problem+json',
} as const;

export const PayCurrencySchema = z
  .object({
    code: CryptoCurrencySchema,
    minAmount: z
      .number()
      .nonnegative()
      .describe(
        'The smallest payment NOWPayments accepts in this coin (GET /v1/min-amount), in the coin',
      ),
  })
  .meta({ id: 'PayCurrency' });
export type PayCurrency = z.infer<typeof PayCurrencySchema>;

export const PayCurrencyListSchema = z
  .object({
    currencies: z
      .array(PayCurrencySchema)
      .describe(
        'The coins a payment may be made in: those we accept (PAYMENT_CURRENCIES) that NOWPayments offers today, in our order',
      ),
    fetchedAt: TimestampSchema.describe('When NOWPayments was asked (answers are cached)'),
  })
  .meta({ id: 'PayCurrencyList' });
export type PayCurrencyList = z.infer<typeof PayCurrencyListSchema>;

export const EstimateQuerySchema = z.object({
  plan: z.string().min(1).max(40).describe('Plan id from GET /payments/plans, e.g. starter'),
  payCurrency: CryptoCurrencySchema.describe(
    'The coin to price the plan in: one of GET /payments/currencies',
  ),
});

export const PriceEstimateSchema = z
  .object({
    plan: z.string().describe('Plan id'),
    priceAmount: z.number().describe('The plan’s price in fiat'),
    priceCurrency: FiatCurrencySchema,
    payCurrency: CryptoCurrencySchema,
    estimatedAmount: z
      .number()
      .nonnegative()
      .describe(
        'About how much of the coin the price is now (GET /v1/estimate); the amount to send is fixed when the payment is opened',
      ),
    fetchedAt: TimestampSchema.describe('When NOWPayments was asked (answers are cached)'),
  })
  .meta({ id: 'PriceEstimate' });
export type PriceEstimate = z.infer<typeof PriceEstimateSchema>;

const tags = ['payments'];

/** Public reads for a pricing page: the coins we accept and what a plan costs in one of them. */
export const priceEndpoints = {
  listPayCurrencies: defineEndpoint({
    operationId: 'listPayCurrencies',
    method: 'get',
    path: '/payments/currencies',
    summary: 'The coins we accept, with NOWPayments’ minimum amount for each',
    description:
      'Public. Answered from a cache (PRICE_CURRENCIES_TTL_MS); concurrent misses share one round of NOWPayments calls.',
    tags,
    auth: 'none',
    responses: {
      200: { description: 'The coins', schema: PayCurrencyListSchema },
      429: problems[429],
      503: unavailable,
    },
  }),
  estimatePrice: defineEndpoint({
    operationId: 'estimatePrice',
    method: 'get',
    path: '/payments/estimate',
    summary: 'What a plan costs now in a coin (an estimate)',
    description:
      'Public. Answered from a cache per plan and coin (PRICE_ESTIMATE_TTL_MS); concurrent misses share one NOWPayments call.',
    tags,
    auth: 'none',
    query: EstimateQuerySchema,
    responses: {
      200: { description: 'The estimate', schema: PriceEstimateSchema },
      400: problems[400],
      429: problems[429],
      503: unavailable,
    },
  }),
} satisfies Record<string, EndpointDef>;

import { z } from 'zod';

/** Ids are UUIDs (v4 or v7); streams are named `<category>-<id>`. */
export const IdSchema = z.uuid({ message: 'expected a UUID' });

export const TimestampSchema = z.iso.datetime({
  offset: true,
  message: 'expected an ISO 8601 date-time',
});

export const RoleSchema = z
  .enum(['user', 'admin'])
  .describe('user: a customer; admin: an operator');
export type Role = z.infer<typeof RoleSchema>;

/** Paging through a list: opaque cursor from the previous page's `nextCursor`. */
export const PageQuerySchema = z.object({
  limit: z.coerce
    .number({ message: 'expected a number' })
    .int()
    .min(1)
    .max(100)
    .default(20)
    .describe('How many items to return (1-100, default 20)'),
  cursor: z.string().max(200).optional().describe('The nextCursor of the previous page'),
});

export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item).describe('This page, newest first'),
      nextCursor: z
        .string()
        .nullable()
        .describe('Pass as `cursor` for the next page; null on the last page'),
    })
    .meta({ id });
}

export const IdParamsSchema = z.object({ id: IdSchema.describe('The resource id') });

/** Crypto tickers as NOWPayments names them (lower case): btc, eth, usdttrc20, … */
export const CryptoCurrencySchema = z
  .string()
  .regex(/^[a-z0-9]{2,20}$/, 'expected a lower-case crypto ticker such as btc or usdttrc20')
  .describe('Crypto currency ticker, lower case (btc, eth, usdttrc20, …)');

export const FiatCurrencySchema = z
  .string()
  .regex(/^[a-z]{3}$/, 'expected a lower-case ISO 4217 code such as usd')
  .describe('Fiat currency, ISO 4217, lower case (usd, eur)');

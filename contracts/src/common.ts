import { z } from 'zod';

/** Ids are UUIDs (v4 or v7); streams are named `<category>-<id>`. */
export const IdSchema = z.uuid({ message: 'expected a UUID' });

/**
 * The years a date the services take may fall in. PostgreSQL stores 4713 BC to 294276 AD,
 * JavaScript's Date reaches ±275760, and past 9999 their text forms part ways (`+010000-…`
 * against `10000-…`), so one beyond the range is a 500 at the first query that holds it. Inside
 * these years every layer reads the same instant. (An offset can carry a date-time written in
 * 9999 into 10000 UTC: `9999-12-31T23:59:59-23:59`; it is the UTC year that counts.)
 */
export const STORABLE_YEARS = { min: 1970, max: 9999 } as const;

/** Whether every layer (JavaScript, PostgreSQL, ISO text) reads this instant the same. */
export function isStorableDate(date: Date): boolean {
  if (Number.isNaN(date.getTime())) return false;
  const year = date.getUTCFullYear();
  return year >= STORABLE_YEARS.min && year <= STORABLE_YEARS.max;
}

const outOfRange = `must fall in the years ${STORABLE_YEARS.min} to ${STORABLE_YEARS.max} (UTC)`;

/** An ISO 8601 date-time with its offset, in the storable years: for requests and events. */
export const TimestampSchema = z.iso
  .datetime({ offset: true, message: 'expected an ISO 8601 date-time' })
  .refine((text) => isStorableDate(new Date(text)), outOfRange);

/** A calendar day, YYYY-MM-DD (impossible days such as 02-30 refused), in the storable years. */
export const DaySchema = z.iso
  .date({ message: 'expected a date (YYYY-MM-DD)' })
  .refine((text) => isStorableDate(new Date(`${text}T00:00:00Z`)), outOfRange);

/** The largest value of a PostgreSQL `integer` column (int4). */
export const INT4_MAX = 2_147_483_647;

/**
 * A whole number from a query string, bounded so the column it is compared with can hold it:
 * `after=3000000000` against an int4 column is PostgreSQL's error, so it must be the client's 400.
 */
export function queryInteger(min: number, max: number) {
  return z.coerce
    .number({ message: 'expected a number' })
    .int('expected a whole number')
    .min(min, `expected at least ${min}`)
    .max(max, `expected at most ${max}`);
}

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
  cursor: z
    .string()
    .max(200)
    // Every service's cursor is base64url; anything else is not one it gave out.
    .regex(/^[A-Za-z0-9_-]+$/, 'not a cursor from a previous page')
    .optional()
    .describe('The nextCursor of the previous page'),
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

import { z } from 'zod';

/**
 * What NOWPayments answers, parsed at the boundary and turned into our shapes (camelCase, ids as
 * strings, absent values as null). Where EXTERNAL-APIS.md marks a point as inferred the parsers
 * are lenient: amounts may come as numbers or numeric strings, optional fields may be missing.
 */

/** Ids are strings in some answers and numbers in others (`payment_id`): we keep strings. */
const providerId = z
  .union([z.string().trim().min(1), z.number().int().nonnegative()])
  .transform(String);

const numericText = z
  .string()
  .trim()
  .regex(/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i, 'expected a number')
  .transform(Number);

/** An amount, as a number or (invoices, estimates) a numeric string. */
const amount = z.union([z.number(), numericText]).pipe(z.number().finite());

function nullable<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? null);
}

const paymentShape = {
  payment_id: providerId,
  payment_status: z.string().min(1),
  pay_address: z.string().min(1),
  pay_amount: amount,
  pay_currency: z.string().min(1),
  price_amount: amount,
  price_currency: z.string().min(1),
  order_id: nullable(z.string()),
  order_description: nullable(z.string()),
  ipn_callback_url: nullable(z.string()),
  purchase_id: nullable(providerId),
  payin_extra_id: nullable(z.string()),
  network: nullable(z.string()),
  expiration_estimate_date: nullable(z.string()),
  valid_until: nullable(z.string()),
  created_at: nullable(z.string()),
  updated_at: nullable(z.string()),
};

type RawPayment = z.output<z.ZodObject<typeof paymentShape>>;

function toPayment(p: RawPayment) {
  return {
    /** NOWPayments' id, always a string on our side. */
    paymentId: p.payment_id,
    /** Verbatim: unknown statuses are kept, not refused. */
    status: p.payment_status,
    payAddress: p.pay_address,
    payAmount: p.pay_amount,
    payCurrency: p.pay_currency,
    priceAmount: p.price_amount,
    priceCurrency: p.price_currency,
    orderId: p.order_id,
    orderDescription: p.order_description,
    ipnCallbackUrl: p.ipn_callback_url,
    purchaseId: p.purchase_id,
    /** Memo / destination tag for coins that need one (xrp, xlm, …). */
    payinExtraId: p.payin_extra_id,
    network: p.network,
    expirationEstimateDate: p.expiration_estimate_date,
    validUntil: p.valid_until,
    createdAt: p.created_at,
    updatedAt: p.updated_at,
  };
}

/** `POST /v1/payment` (201): `payment_id` is a string there. */
export const createdPaymentSchema = z.looseObject(paymentShape).transform(toPayment);
export type NowPayment = z.output<typeof createdPaymentSchema>;

/** `GET /v1/payment/:id`: the same fields with `payment_id` a number, plus what was paid. */
export const paymentDetailsSchema = z
  .looseObject({
    ...paymentShape,
    actually_paid: nullable(amount),
    actually_paid_at_fiat: nullable(amount),
    outcome_amount: nullable(amount),
    outcome_currency: nullable(z.string()),
    invoice_id: nullable(providerId),
    parent_payment_id: nullable(providerId),
  })
  .transform((p) => ({
    ...toPayment(p),
    actuallyPaid: p.actually_paid,
    actuallyPaidAtFiat: p.actually_paid_at_fiat,
    outcomeAmount: p.outcome_amount,
    outcomeCurrency: p.outcome_currency,
    invoiceId: p.invoice_id,
    /** Set when a repeat deposit to a used address became a payment of its own. */
    parentPaymentId: p.parent_payment_id,
  }));
export type NowPaymentDetails = z.output<typeof paymentDetailsSchema>;

/** `POST /v1/invoice` (201): `id` and `price_amount` are strings there. */
export const invoiceSchema = z
  .looseObject({
    id: providerId,
    invoice_url: z.string().min(1),
    order_id: nullable(z.string()),
    order_description: nullable(z.string()),
    price_amount: amount,
    price_currency: z.string().min(1),
    pay_currency: nullable(z.string()),
    ipn_callback_url: nullable(z.string()),
    created_at: nullable(z.string()),
    updated_at: nullable(z.string()),
  })
  .transform((i) => ({
    invoiceId: i.id,
    invoiceUrl: i.invoice_url,
    orderId: i.order_id,
    orderDescription: i.order_description,
    priceAmount: i.price_amount,
    priceCurrency: i.price_currency,
    payCurrency: i.pay_currency,
    ipnCallbackUrl: i.ipn_callback_url,
    createdAt: i.created_at,
    updatedAt: i.updated_at,
  }));
export type NowInvoice = z.output<typeof invoiceSchema>;

export const statusSchema = z.looseObject({ message: z.string() });

export const estimateSchema = z
  .looseObject({
    currency_from: z.string(),
    currency_to: z.string(),
    amount_from: amount.optional(),
    estimated_amount: amount,
  })
  .transform((e) => ({
    currencyFrom: e.currency_from,
    currencyTo: e.currency_to,
    estimatedAmount: e.estimated_amount,
  }));
export type NowEstimate = z.output<typeof estimateSchema>;

export const minAmountSchema = z
  .looseObject({ currency_from: z.string(), currency_to: z.string(), min_amount: amount })
  .transform((m) => ({
    currencyFrom: m.currency_from,
    currencyTo: m.currency_to,
    minAmount: m.min_amount,
  }));
export type NowMinAmount = z.output<typeof minAmountSchema>;

export const currenciesSchema = z
  .looseObject({ currencies: z.array(z.string()) })
  .transform((c) => c.currencies.map((code) => code.toLowerCase()));

/** The documented error body: `{"status":false,"statusCode":400,"code":"…","message":"…"}`. */
export const errorBodySchema = z.looseObject({
  status: z.literal(false).optional(),
  statusCode: z.number().int().optional(),
  code: z.string().optional(),
  message: z.union([z.string(), z.array(z.string()).transform((m) => m.join('; '))]).optional(),
});

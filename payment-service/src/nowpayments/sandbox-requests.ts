import { ProviderPaymentStatusSchema } from '@meetmatt/contracts';
import { z } from 'zod';
import { isCrypto, isKnownCurrency } from './sandbox-currencies';
import { SANDBOX_CASES } from './sandbox-scenarios';

/**
 * What the sandbox accepts, with messages in the style of NOWPayments' own validation
 * (`"price_amount" is required`), which the path is prefixed to by `validationMessage`.
 */

const requiredNumber = z.number({
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number'),
});
const requiredString = z.string({
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string'),
});
const optionalString = z.string({ error: 'must be a string' }).optional();
const optionalBoolean = z.boolean({ error: 'must be a boolean' }).optional();
const positive = requiredNumber.positive({ error: 'must be greater than 0' });
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be a valid http(s) uri' });

const currency = requiredString
  .trim()
  .toLowerCase()
  .refine(isKnownCurrency, { error: 'is not a supported currency' });
const crypto = requiredString
  .trim()
  .toLowerCase()
  .refine(isCrypto, { error: 'is not a supported currency' });

export const createPaymentRequestSchema = z.object({
  price_amount: positive,
  price_currency: currency,
  pay_currency: crypto,
  pay_amount: positive.optional(),
  ipn_callback_url: httpUrl.optional(),
  order_id: optionalString,
  order_description: optionalString,
  purchase_id: z.union([z.string(), z.number()], { error: 'must be a string' }).optional(),
  is_fixed_rate: optionalBoolean,
  is_fee_paid_by_user: optionalBoolean,
  payout_address: optionalString,
  payout_currency: optionalString,
  payout_extra_id: optionalString,
  case: z
    .string({ error: 'must be a string' })
    .refine((value) => SANDBOX_CASES.includes(value), {
      error: `must be one of [${SANDBOX_CASES.join(', ')}]`,
    })
    .optional(),
});
export type CreatePaymentRequest = z.output<typeof createPaymentRequestSchema>;

export const createInvoiceRequestSchema = z.object({
  price_amount: positive,
  price_currency: currency,
  pay_currency: crypto.optional(),
  ipn_callback_url: httpUrl.optional(),
  order_id: optionalString,
  order_description: optionalString,
  success_url: httpUrl.optional(),
  cancel_url: httpUrl.optional(),
  is_fixed_rate: optionalBoolean,
  is_fee_paid_by_user: optionalBoolean,
});
export type CreateInvoiceRequest = z.output<typeof createInvoiceRequestSchema>;

const queryAmount = z.coerce
  .number({ error: 'must be a number' })
  .positive({ error: 'must be greater than 0' });

export const pairQuerySchema = z.object({
  currency_from: currency,
  currency_to: currency,
});

export const estimateQuerySchema = pairQuerySchema.extend({ amount: queryAmount });

export const paymentIdSchema = z.string().regex(/^\d+$/, { error: 'must be a number' });

/** Control API: move a payment to a status now (manual scenario, or any payment). */
export const setStatusRequestSchema = z.object({
  status: ProviderPaymentStatusSchema,
  actuallyPaid: z.number().nonnegative().optional(),
});

/** Control API: a repeat deposit of this much (in the payment's coin) to a payment's address. */
export const depositRequestSchema = z.object({
  actuallyPaid: z.number().positive(),
});

export const resendRequestSchema = z.object({
  times: z.number().int().min(1).max(50).default(1),
});

export const payInvoiceRequestSchema = z.object({
  payCurrency: crypto.optional(),
  /** Scenario markers for this payment, as they would appear in `order_description`. */
  markers: z.string().optional(),
  case: z.enum(SANDBOX_CASES as [string, ...string[]]).optional(),
});

/** `"price_amount" is required`: the first problem, named by its path. */
export function validationMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid request';
  const path = issue.path.map(String).join('.');
  return path ? `"${path}" ${issue.message}` : issue.message;
}

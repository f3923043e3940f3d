import { z } from 'zod';
import { BillingDetailsSchema } from '../billing';
import { CryptoCurrencySchema, FiatCurrencySchema, IdSchema, TimestampSchema } from '../common';
import { type EventUnion, defineEvent } from '../events';

/** The statuses NOWPayments reports for a payment (EXTERNAL-APIS.md), kept verbatim. */
export const ProviderPaymentStatusSchema = z
  .enum([
    'waiting',
    'confirming',
    'confirmed',
    'sending',
    'partially_paid',
    'finished',
    'failed',
    'refunded',
    'expired',
    'cancelled',
  ])
  .describe(
    'NOWPayments: waiting → confirming → confirmed → sending → finished; final: finished, partially_paid, failed, refunded, expired, cancelled',
  );
export type ProviderPaymentStatus = z.infer<typeof ProviderPaymentStatusSchema>;

/**
 * A payment's status: NOWPayments' own, plus two of ours for a payment NOWPayments called
 * `finished` that we do not accept as paid: `underpaid` (less than the amount arrived, beyond the
 * tolerance) and `mismatched` (another coin, or a price that is not ours).
 */
export const PaymentStatusSchema = z
  .enum([...ProviderPaymentStatusSchema.options, 'underpaid', 'mismatched'])
  .describe(
    'waiting → confirming → confirmed → sending → finished; final: finished, partially_paid, failed, refunded, expired, cancelled, underpaid (less than asked arrived; later deposits may still complete it), mismatched (another coin or price than ours)',
  );
export type PaymentStatus = z.infer<typeof PaymentStatusSchema>;

/**
 * PostgreSQL stores no NUL character in text or jsonb: a string carrying one is refused here, as
 * the client's mistake, before anything is asked of NOWPayments or written.
 */
const withoutNul = (schema: z.ZodString) =>
  schema.refine((text) => !text.includes('\u0000'), 'must not contain NUL (\\u0000) characters');

/** What the customer buys: the agent Devin will build on confirmation. */
export const AgentSpecSchema = z
  .object({
    name: withoutNul(z.string().trim().min(1).max(80)).describe('The agent name'),
    instructions: withoutNul(z.string().trim().min(1).max(20_000)).describe(
      'What the agent should do; goes into the Devin prompt',
    ),
    repository: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected owner/name')
      .optional()
      .describe(
        'Legacy, ignored: orders no longer name a repository (AgentOrder refuses one); the brain builds every agent under its own organisation',
      ),
  })
  .meta({ id: 'AgentSpec' });
export type AgentSpec = z.infer<typeof AgentSpecSchema>;

const paymentId = IdSchema.describe('Our payment id (also NOWPayments order_id)');

/** One figure of a payment as we asked for it and as NOWPayments reported it. */
export const PaymentFigureSchema = z
  .object({
    field: z
      .enum(['payCurrency', 'priceAmount', 'priceCurrency', 'actuallyPaid'])
      .describe('Which figure: the coin, the fiat price and its currency, or the crypto received'),
    expected: z.union([z.string(), z.number()]).describe('Ours'),
    actual: z
      .union([z.string(), z.number()])
      .nullable()
      .describe('As NOWPayments reported it (null: not reported)'),
  })
  .meta({ id: 'PaymentFigure' });
export type PaymentFigure = z.infer<typeof PaymentFigureSchema>;
const userId = IdSchema.describe('The paying user');

export const paymentEvents = {
  created: defineEvent(
    'payment.created',
    z.object({
      paymentId,
      userId,
      plan: z.string().describe('Plan id'),
      priceAmount: z.number().describe('Price in fiat'),
      priceCurrency: FiatCurrencySchema,
      payCurrency: CryptoCurrencySchema,
      payAmount: z.number().describe('Amount of crypto to send'),
      payAddress: z.string().describe('Deposit address'),
      payinExtraId: z
        .string()
        .nullable()
        .describe('Memo / destination tag for coins that need one'),
      providerPaymentId: z.string().describe('NOWPayments payment_id, as a string'),
      expiresAt: TimestampSchema.nullable().describe(
        'When NOWPayments stops waiting for the deposit',
      ),
      agent: AgentSpecSchema,
      autoDeploy: z.boolean().describe('Deploy as soon as the payment is confirmed'),
      maxAcuLimit: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('The plan’s Devin build budget (ACUs) when the payment was opened'),
      createdAt: TimestampSchema,
    }),
    { description: 'A payment was opened with NOWPayments and awaits the deposit' },
  ),
  ipnReceived: defineEvent(
    'payment.ipn-received',
    z.object({
      paymentId,
      providerPaymentId: z.string().describe('NOWPayments payment_id'),
      providerStatus: z
        .string()
        .describe('payment_status as NOWPayments sent it (unknown values kept)'),
      actuallyPaid: z.number().nullable().describe('Crypto received so far'),
      outcomeAmount: z.number().nullable().describe('What NOWPayments settles to us'),
      parentProviderPaymentId: z
        .string()
        .nullable()
        .optional()
        .describe(
          'parent_payment_id: set when this is a repeat deposit NOWPayments made a payment of its own',
        ),
      payCurrency: z
        .string()
        .nullable()
        .optional()
        .describe(
          'pay_currency as reported: the coin that arrived (absent on events before 2026-12)',
        ),
      payAmount: z.number().nullable().optional().describe('pay_amount as reported'),
      priceAmount: z.number().nullable().optional().describe('price_amount as reported'),
      priceCurrency: z.string().nullable().optional().describe('price_currency as reported'),
      source: z
        .enum(['webhook', 'reconciler'])
        .describe('A signed IPN, or our own poll of GET /v1/payment'),
      fingerprint: z
        .string()
        .describe('Hash of the payload: the same IPN twice has the same fingerprint'),
      receivedAt: TimestampSchema,
    }),
    {
      description:
        'Evidence: NOWPayments told us the payment status (verified IPN or reconciliation poll)',
    },
  ),
  statusChanged: defineEvent(
    'payment.status-changed',
    z.object({
      paymentId,
      userId,
      from: PaymentStatusSchema,
      to: PaymentStatusSchema,
      source: z
        .enum(['webhook', 'reconciler'])
        .optional()
        .describe('What told us: a signed IPN or our poll of GET /v1/payment'),
      providerStatus: z.string().optional().describe('payment_status as NOWPayments reported it'),
      actuallyPaid: z
        .number()
        .nullable()
        .optional()
        .describe('Crypto received so far, as NOWPayments reported it with this status'),
      changedAt: TimestampSchema,
    }),
    { description: 'The payment moved forward; it never moves backwards' },
  ),
  confirmed: defineEvent(
    'payment.confirmed',
    z.object({
      paymentId,
      userId,
      plan: z.string().describe('Plan id'),
      priceAmount: z.number(),
      priceCurrency: FiatCurrencySchema,
      payCurrency: CryptoCurrencySchema,
      actuallyPaid: z.number().nullable().describe('Crypto received'),
      agent: AgentSpecSchema,
      autoDeploy: z.boolean().describe('false: the user deploys with POST /agents/deploy'),
      maxAcuLimit: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'The plan’s Devin build budget (ACUs), from the payment service’s catalogue (PLANS_JSON may override the defaults)',
        ),
      confirmedAt: TimestampSchema,
    }),
    { description: 'Paid in full (NOWPayments finished): everything the brain needs to deploy' },
  ),
  partiallyPaid: defineEvent(
    'payment.partially-paid',
    z.object({
      paymentId,
      userId,
      actuallyPaid: z.number().nullable(),
      payAmount: z.number(),
      payCurrency: CryptoCurrencySchema,
      at: TimestampSchema,
    }),
    {
      description:
        'Less than the amount arrived; final for this payment (NOWPayments keeps the funds)',
    },
  ),
  underpaid: defineEvent(
    'payment.underpaid',
    z.object({
      paymentId,
      userId,
      payCurrency: CryptoCurrencySchema,
      payAmount: z.number().describe('The crypto amount we asked for'),
      actuallyPaid: z
        .number()
        .describe('What arrived: the settled deposits in our coin, repeat deposits included'),
      shortfall: z.number().describe('payAmount − actuallyPaid'),
      tolerance: z
        .number()
        .describe('The share of payAmount allowed to be missing (PAYMENT_UNDERPAYMENT_TOLERANCE)'),
      providerPaymentId: z.string().describe('The NOWPayments payment whose report this was'),
      providerStatus: z.string().describe('What NOWPayments said (finished, partially_paid)'),
      at: TimestampSchema,
    }),
    {
      description:
        'NOWPayments called the payment finished but less than the amount arrived, beyond the tolerance: not confirmed, no invoice, nothing deployed. A later deposit (parent_payment_id) may complete it.',
    },
  ),
  mismatched: defineEvent(
    'payment.mismatched',
    z.object({
      paymentId,
      userId,
      mismatches: z
        .array(PaymentFigureSchema)
        .min(1)
        .describe('Each figure NOWPayments reported that is not ours'),
      providerPaymentId: z.string().describe('The NOWPayments payment whose report this was'),
      providerStatus: z.string().describe('What NOWPayments said'),
      at: TimestampSchema,
    }),
    {
      description:
        'NOWPayments reported a payment in another coin or at another price than ours: not confirmed, no invoice, nothing deployed',
    },
  ),
  failed: defineEvent(
    'payment.failed',
    z.object({ paymentId, userId, reason: z.string(), at: TimestampSchema }),
    { description: 'NOWPayments reported the payment failed' },
  ),
  expired: defineEvent('payment.expired', z.object({ paymentId, userId, at: TimestampSchema }), {
    description: 'No deposit arrived in time',
  }),
  refunded: defineEvent('payment.refunded', z.object({ paymentId, userId, at: TimestampSchema }), {
    description: 'NOWPayments reported the payment refunded',
  }),
  invoiceIssued: defineEvent(
    'payment.invoice-issued',
    z.object({
      paymentId,
      userId,
      invoiceNumber: z
        .string()
        .regex(/^MM-\d{4}-\d{6}$/)
        .describe('Gapless per year: MM-2026-000042'),
      amount: z.number(),
      currency: FiatCurrencySchema,
      plan: z.string(),
      buyer: BillingDetailsSchema.nullable()
        .optional()
        .describe(
          'The buyer’s billing details as they were when the invoice was issued (null: none given; absent on invoices before 2026-12)',
        ),
      issuedAt: TimestampSchema,
    }),
    { description: 'An invoice was issued for a confirmed payment' },
  ),
  invoiceNumberAllocated: defineEvent(
    'payment.invoice-number-allocated',
    z.object({
      year: z.number().int(),
      sequence: z.number().int().positive().describe('Consecutive within the year, from 1'),
      paymentId,
    }),
    { description: 'A number taken from the per-year counter stream (invoice-counter-<year>)' },
  ),
  creditNoteIssued: defineEvent(
    'payment.credit-note-issued',
    z.object({
      paymentId,
      userId,
      creditNoteNumber: z
        .string()
        .regex(/^MM-CN-\d{4}-\d{6}$/)
        .describe('Gapless per year, a sequence of its own: MM-CN-2026-000007'),
      invoiceNumber: z.string().describe('The invoice it credits'),
      amount: z.number().max(0).describe('Negative: the invoiced amount given back'),
      currency: FiatCurrencySchema,
      plan: z.string(),
      reason: z.string().describe('Why the refund was made'),
      refundReference: z.string().describe('The operator’s reference of the payout'),
      buyer: BillingDetailsSchema.nullable().describe('As printed on the invoice it credits'),
      issuedAt: TimestampSchema,
    }),
    { description: 'A credit note was issued for a completed refund (one per refund)' },
  ),
  creditNoteNumberAllocated: defineEvent(
    'payment.credit-note-number-allocated',
    z.object({
      year: z.number().int(),
      sequence: z.number().int().positive().describe('Consecutive within the year, from 1'),
      paymentId,
    }),
    {
      description:
        'A credit-note number taken from the per-year counter stream (credit-note-counter-<year>)',
    },
  ),
  refundRequested: defineEvent(
    'payment.refund-requested',
    z.object({
      paymentId,
      userId,
      reason: z.string(),
      requestedBy: z
        .enum(['operator', 'system'])
        .describe('An admin, or the brain failing to deploy'),
      operatorId: IdSchema.nullable().describe('The admin who asked, when one did'),
      requestedAt: TimestampSchema,
    }),
    { description: 'A refund was asked for; an operator completes it outside NOWPayments' },
  ),
  refundCompleted: defineEvent(
    'payment.refund-completed',
    z.object({
      paymentId,
      userId,
      reference: z.string().describe('The operator’s reference of the payout or support case'),
      operatorId: IdSchema,
      completedAt: TimestampSchema,
    }),
    { description: 'An operator refunded the customer' },
  ),
};

export type PaymentEvent = EventUnion<typeof paymentEvents>;
export const paymentEventTypes = Object.fromEntries(
  Object.entries(paymentEvents).map(([k, v]) => [k, v.type]),
) as { [K in keyof typeof paymentEvents]: (typeof paymentEvents)[K]['type'] };

import { z } from 'zod';
import {
  CryptoCurrencySchema,
  FiatCurrencySchema,
  IdParamsSchema,
  IdSchema,
  PageQuerySchema,
  TimestampSchema,
  pageOf,
} from '../common';
import { BillingDetailsSchema } from '../billing';
import { PlanSchema } from '../catalogue';
import { type EndpointDef, ProblemSchema, defineEndpoint, problems } from '../http';
import { buildOpenApiDocument } from '../openapi';
import { AgentOrderSchema } from '../brain/repository';
import { AgentSpecSchema, PaymentFigureSchema, PaymentStatusSchema } from './events';
import { priceEndpoints } from './prices';

export const CreatePaymentRequestSchema = z
  .object({
    plan: z
      .string()
      .min(1)
      .max(40)
      .refine((text) => !text.includes('\u0000'), 'must not contain NUL (\\u0000) characters')
      .describe('Plan id from GET /payments/plans, e.g. starter'),
    payCurrency: CryptoCurrencySchema.describe(
      'The coin to pay with: one the service accepts (a 400 lists them), lower case',
    ),
    agent: AgentOrderSchema,
    autoDeploy: z
      .boolean()
      .default(true)
      .describe('Deploy as soon as the payment is confirmed (default true)'),
  })
  .meta({ id: 'CreatePaymentRequest' });

export const PaymentDiscrepancySchema = z
  .object({
    kind: z
      .enum(['underpaid', 'mismatched'])
      .describe('underpaid: less than the amount arrived; mismatched: another coin or price'),
    figures: z.array(PaymentFigureSchema).describe('What we asked for beside what was reported'),
    at: TimestampSchema.describe('When it was recorded'),
  })
  .meta({ id: 'PaymentDiscrepancy' });
export type PaymentDiscrepancy = z.infer<typeof PaymentDiscrepancySchema>;

export const PaymentSchema = z
  .object({
    id: IdSchema.describe('Payment id'),
    userId: IdSchema.describe('Owner'),
    status: PaymentStatusSchema,
    plan: z.string().describe('Plan id'),
    priceAmount: z.number().describe('Price in fiat'),
    priceCurrency: FiatCurrencySchema,
    payCurrency: CryptoCurrencySchema,
    payAmount: z.number().describe('Crypto to send'),
    payAddress: z.string().describe('Where to send it'),
    payinExtraId: z.string().nullable().describe('Memo / destination tag, for coins that need one'),
    providerPaymentId: z.string().describe('NOWPayments payment_id'),
    actuallyPaid: z.number().nullable().describe('Crypto received so far'),
    agent: AgentSpecSchema,
    autoDeploy: z.boolean(),
    invoiceNumber: z.string().nullable().describe('Set once the payment is confirmed'),
    creditNoteNumber: z
      .string()
      .nullable()
      .describe('Set once a completed refund has its credit note (GET /payments/:id/credit-note)'),
    refund: z
      .object({
        status: z.enum(['requested', 'completed']),
        reason: z.string(),
        reference: z.string().nullable(),
      })
      .nullable()
      .describe('Refund state, when one was asked for'),
    discrepancy: PaymentDiscrepancySchema.nullable().describe(
      'Why a payment NOWPayments called finished was not confirmed (status underpaid or mismatched); null otherwise',
    ),
    expiresAt: TimestampSchema.nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'Payment' });
export type PaymentView = z.infer<typeof PaymentSchema>;

export const CreatePaymentResponseSchema = PaymentSchema.pick({
  id: true,
  status: true,
  plan: true,
  priceAmount: true,
  priceCurrency: true,
  payCurrency: true,
  payAmount: true,
  payAddress: true,
  payinExtraId: true,
  providerPaymentId: true,
  expiresAt: true,
  createdAt: true,
}).meta({ id: 'CreatePaymentResponse' });

export const PaymentStatusResponseSchema = z
  .object({
    id: IdSchema,
    status: PaymentStatusSchema,
    actuallyPaid: z.number().nullable(),
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'PaymentStatusResponse' });

export const PaymentHistoryEntrySchema = z
  .object({
    status: PaymentStatusSchema,
    providerStatus: z.string().nullable().describe('What NOWPayments said, verbatim'),
    source: z.enum(['created', 'webhook', 'reconciler', 'operator']).describe('What moved it'),
    at: TimestampSchema,
  })
  .meta({ id: 'PaymentHistoryEntry' });

export const PaymentDetailSchema = PaymentSchema.extend({
  history: z.array(PaymentHistoryEntrySchema).describe('Status changes, oldest first'),
}).meta({ id: 'PaymentDetail' });

export const ListPaymentsQuerySchema = PageQuerySchema.extend({
  status: PaymentStatusSchema.optional().describe('Only payments in this status'),
});

export const InvoiceSchema = z
  .object({
    number: z.string().describe('MM-<year>-<6 digits>, gapless within a year'),
    paymentId: IdSchema,
    userId: IdSchema,
    plan: z.string(),
    description: z.string(),
    amount: z.number(),
    currency: FiatCurrencySchema,
    paidWith: z.object({ currency: CryptoCurrencySchema, amount: z.number().nullable() }),
    issuedAt: TimestampSchema,
    seller: z.object({
      name: z.string(),
      address: z.string().describe('One line per line of the address'),
      taxId: z.string().optional().describe('The seller’s VAT or tax number, when it has one'),
    }),
    buyer: BillingDetailsSchema.nullable().describe(
      'The buyer’s billing details as they were when the invoice was issued; null: none given',
    ),
  })
  .meta({ id: 'Invoice' });

export const CreditNoteSchema = z
  .object({
    number: z.string().describe('MM-CN-<year>-<6 digits>, gapless within a year, its own sequence'),
    invoiceNumber: z.string().describe('The invoice it credits'),
    paymentId: IdSchema,
    userId: IdSchema,
    plan: z.string(),
    description: z.string(),
    amount: z.number().describe('Negative: what is given back'),
    currency: FiatCurrencySchema,
    reason: z.string().describe('Why the customer was refunded'),
    refundReference: z.string().describe('The reference of the refund payout'),
    issuedAt: TimestampSchema,
    seller: InvoiceSchema.shape.seller,
    buyer: BillingDetailsSchema.nullable().describe('As on the invoice it credits'),
  })
  .meta({ id: 'CreditNote' });

export const RefundRequestSchema = z
  .object({ reason: z.string().trim().min(3).max(1000).describe('Why the customer is refunded') })
  .meta({ id: 'RefundRequest' });
export const RefundCompleteSchema = z
  .object({
    reference: z.string().trim().min(1).max(200).describe('Payout or support case reference'),
  })
  .meta({ id: 'RefundComplete' });

/**
 * The NOWPayments IPN body (documented fields; anything else is kept but not required).
 * `payment_id` arrives as a number in IPNs; we normalise ids to strings.
 */
export const NowPaymentsIpnSchema = z
  .looseObject({
    payment_id: z
      .union([z.number(), z.string()])
      .transform(String)
      .describe('NOWPayments payment id'),
    parent_payment_id: z
      .union([z.number(), z.string()])
      .nullish()
      .describe('Set on a repeat deposit'),
    invoice_id: z.union([z.number(), z.string()]).nullish(),
    payment_status: z.string().min(1).describe('NOWPayments status; unknown values are recorded'),
    pay_address: z.string().nullish(),
    payin_extra_id: z.string().nullish(),
    price_amount: z.number().nullish(),
    price_currency: z.string().nullish(),
    pay_amount: z.number().nullish(),
    actually_paid: z.number().nullish(),
    actually_paid_at_fiat: z.number().nullish(),
    pay_currency: z.string().nullish(),
    order_id: z.string().nullish().describe('Our payment id'),
    order_description: z.string().nullish(),
    purchase_id: z.union([z.number(), z.string()]).nullish(),
    outcome_amount: z.number().nullish(),
    outcome_currency: z.string().nullish(),
    fee: z
      .looseObject({
        currency: z.string().nullish(),
        depositFee: z.number().nullish(),
        withdrawalFee: z.number().nullish(),
        serviceFee: z.number().nullish(),
      })
      .nullish(),
  })
  .meta({ id: 'NowPaymentsIpn' });
export type NowPaymentsIpn = z.infer<typeof NowPaymentsIpnSchema>;

const tags = ['payments'];

export const paymentEndpoints = {
  listPlans: defineEndpoint({
    operationId: 'listPlans',
    method: 'get',
    path: '/payments/plans',
    summary: 'The plans on sale, with their server-side prices',
    tags,
    auth: 'none',
    responses: {
      200: {
        description: 'Plans',
        schema: z.object({ plans: z.array(PlanSchema) }).meta({ id: 'PlanList' }),
      },
    },
  }),
  createPayment: defineEndpoint({
    operationId: 'createPayment',
    method: 'post',
    path: '/payments/create',
    summary: 'Open a crypto payment for a plan',
    description:
      'Calls NOWPayments POST /v1/payment with our id as order_id. Idempotency-Key: the same key from the same user returns the first answer.',
    tags,
    auth: 'user',
    headers: {
      'Idempotency-Key': 'Optional; the same key from the same user returns the first answer',
    },
    body: CreatePaymentRequestSchema,
    responses: {
      201: {
        description:
          'Created (or, for a repeated Idempotency-Key, the first answer again with Idempotent-Replayed: true)',
        schema: CreatePaymentResponseSchema,
      },
      400: problems[400],
      401: problems[401],
      409: {
        ...problems[409],
        description: 'A request with this Idempotency-Key is still being processed',
      },
      422: {
        description: 'This Idempotency-Key was already used with a different request body',
        schema: ProblemSchema,
        contentType: 'application/problem+json',
      },
      502: problems[502],
    },
  }),
  getPaymentStatus: defineEndpoint({
    operationId: 'getPaymentStatus',
    method: 'get',
    path: '/payments/:id/status',
    summary: 'The status of one of your payments',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: {
      200: { description: 'Status', schema: PaymentStatusResponseSchema },
      404: problems[404],
    },
  }),
  getPaymentInvoice: defineEndpoint({
    operationId: 'getPaymentInvoice',
    method: 'get',
    path: '/payments/:id/invoice',
    summary:
      'The invoice of a confirmed payment: JSON, HTML (Accept: text/html) or PDF (Accept: application/pdf)',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: {
      200: {
        description:
          'The invoice: JSON by default, a printable page for Accept: text/html, a PDF for Accept: application/pdf',
        schema: InvoiceSchema,
        alternatives: {
          'text/html': 'A printable page',
          'application/pdf': 'The invoice as a PDF',
        },
      },
      404: problems[404],
      406: {
        description: 'None of JSON, HTML or PDF is acceptable',
        schema: ProblemSchema,
        contentType: 'application/problem+json',
      },
      409: {
        ...problems[409],
        description: 'The payment is not confirmed, or its invoice is being issued',
      },
    },
  }),
  getPaymentCreditNote: defineEndpoint({
    operationId: 'getPaymentCreditNote',
    method: 'get',
    path: '/payments/:id/credit-note',
    summary:
      'The credit note of a refunded payment: JSON, or PDF (Accept: application/pdf); its owner or an operator',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: {
      200: {
        description: 'The credit note: JSON by default, a PDF for Accept: application/pdf',
        schema: CreditNoteSchema,
        alternatives: { 'application/pdf': 'The credit note as a PDF' },
      },
      404: problems[404],
      406: {
        description: 'Neither JSON nor PDF is acceptable',
        schema: ProblemSchema,
        contentType: 'application/problem+json',
      },
      409: {
        ...problems[409],
        description: 'No refund of the payment was completed, or its credit note is being issued',
      },
    },
  }),
  requestRefund: defineEndpoint({
    operationId: 'requestRefund',
    method: 'post',
    path: '/payments/:id/refund',
    summary: 'Ask for a refund (operators)',
    tags,
    auth: 'admin',
    params: IdParamsSchema,
    body: RefundRequestSchema,
    responses: {
      202: { description: 'Refund requested', schema: PaymentSchema },
      404: problems[404],
      409: problems[409],
    },
  }),
  completeRefund: defineEndpoint({
    operationId: 'completeRefund',
    method: 'post',
    path: '/payments/:id/refund/complete',
    summary: 'Record a refund made outside NOWPayments (operators)',
    tags,
    auth: 'admin',
    params: IdParamsSchema,
    body: RefundCompleteSchema,
    responses: {
      200: { description: 'Refund completed', schema: PaymentSchema },
      404: problems[404],
      409: problems[409],
    },
  }),
  getPayment: defineEndpoint({
    operationId: 'getPayment',
    method: 'get',
    path: '/payments/:id',
    summary: 'One of your payments, with its status history',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: { 200: { description: 'Payment', schema: PaymentDetailSchema }, 404: problems[404] },
  }),
  listPayments: defineEndpoint({
    operationId: 'listPayments',
    method: 'get',
    path: '/payments',
    summary: 'Your payments, newest first (operators see everyone’s)',
    tags,
    auth: 'user',
    query: ListPaymentsQuerySchema,
    responses: {
      200: { description: 'A page of payments', schema: pageOf(PaymentSchema, 'PaymentPage') },
    },
  }),
  nowpaymentsWebhook: defineEndpoint({
    operationId: 'nowpaymentsWebhook',
    method: 'post',
    path: '/webhooks/nowpayments',
    summary:
      'NOWPayments IPN: signed with x-nowpayments-sig (HMAC-SHA512 over the key-sorted JSON)',
    tags: ['webhooks'],
    auth: 'signature',
    headers: { 'x-nowpayments-sig': 'HMAC-SHA512 hex of the recursively key-sorted JSON body' },
    body: NowPaymentsIpnSchema,
    bodyLimit: '64kb',
    responses: {
      200: {
        description: 'Recorded (or ignored: unknown payment, repeat)',
        schema: z.object({ ok: z.literal(true) }),
      },
      400: problems[400],
      401: problems[401],
      413: problems[413],
    },
  }),
  ...priceEndpoints,
} satisfies Record<string, EndpointDef>;

export function paymentOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt payment service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(paymentEndpoints),
  );
}

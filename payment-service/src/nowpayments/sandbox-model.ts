import { type PaymentStatus } from '@meetmatt/contracts';
import { convert, networkOf, payAddressFor, payinExtraIdFor, roundFor } from './sandbox-currencies';
import { type Scenario } from './sandbox-scenarios';

/** A payment as the sandbox keeps it; the API views below are computed from it. */
export interface SandboxPayment {
  id: number;
  status: PaymentStatus;
  scenario: Scenario;
  priceAmount: number;
  priceCurrency: string;
  payAmount: number;
  payCurrency: string;
  payAddress: string;
  payinExtraId: string | null;
  network: string;
  actuallyPaid: number;
  orderId: string | null;
  orderDescription: string | null;
  ipnCallbackUrl: string | null;
  purchaseId: string;
  invoiceId: number | null;
  /** Set on a repeat deposit to the address of an earlier payment: that payment's id. */
  parentPaymentId: number | null;
  isFixedRate: boolean;
  isFeePaidByUser: boolean;
  createdAt: Date;
  updatedAt: Date;
  expirationEstimateDate: Date;
  validUntil: Date;
}

export interface SandboxInvoice {
  id: number;
  priceAmount: number;
  priceCurrency: string;
  payCurrency: string | null;
  orderId: string | null;
  orderDescription: string | null;
  ipnCallbackUrl: string | null;
  successUrl: string | null;
  cancelUrl: string | null;
  isFixedRate: boolean;
  isFeePaidByUser: boolean;
  createdAt: Date;
}

export interface OpenPaymentInput {
  priceAmount: number;
  priceCurrency: string;
  payCurrency: string;
  payAmount?: number | undefined;
  orderId?: string | undefined;
  orderDescription?: string | undefined;
  ipnCallbackUrl?: string | undefined;
  purchaseId?: string | number | undefined;
  isFixedRate?: boolean | undefined;
  isFeePaidByUser?: boolean | undefined;
  invoiceId?: number | undefined;
}

const MINUTE = 60_000;
/** NOWPayments waits 7 days for a deposit, 20 minutes at a fixed rate. */
const VALIDITY_MS = { fixed: 20 * MINUTE, floating: 7 * 24 * 60 * MINUTE };
/** NOWPayments' service fee, on what was actually paid. */
const SERVICE_FEE_SHARE = 0.005;

export function openPayment(
  input: OpenPaymentInput,
  context: { id: number; purchaseId: number; scenario: Scenario; now: Date },
): SandboxPayment {
  const { id, now } = context;
  const isFixedRate = input.isFixedRate ?? false;
  return {
    id,
    status: 'waiting',
    scenario: context.scenario,
    priceAmount: input.priceAmount,
    priceCurrency: input.priceCurrency,
    payAmount:
      input.payAmount ?? convert(input.priceAmount, input.priceCurrency, input.payCurrency),
    payCurrency: input.payCurrency,
    payAddress: payAddressFor(input.payCurrency, String(id)),
    payinExtraId: payinExtraIdFor(input.payCurrency, String(id)),
    network: networkOf(input.payCurrency),
    actuallyPaid: 0,
    orderId: input.orderId ?? null,
    orderDescription: input.orderDescription ?? null,
    ipnCallbackUrl: input.ipnCallbackUrl ?? null,
    purchaseId: String(input.purchaseId ?? context.purchaseId),
    invoiceId: input.invoiceId ?? null,
    parentPaymentId: null,
    isFixedRate,
    isFeePaidByUser: input.isFeePaidByUser ?? false,
    createdAt: now,
    updatedAt: now,
    expirationEstimateDate: new Date(now.getTime() + VALIDITY_MS.fixed),
    validUntil: new Date(now.getTime() + (isFixedRate ? VALIDITY_MS.fixed : VALIDITY_MS.floating)),
  };
}

/** The one scenario a repeat deposit plays: it arrives in full, and NOWPayments finishes it. */
const REPEAT_DEPOSIT_SCENARIO: Scenario = {
  outcome: 'paid',
  copies: 1,
  reverse: false,
  loseFinalIpn: false,
};

/**
 * A repeat deposit of `amount` to the address of `parent`: NOWPayments makes it a payment of its
 * own, with `parent_payment_id`, the same order and callback, priced by what arrived.
 */
export function repeatDeposit(
  parent: SandboxPayment,
  amount: number,
  context: { id: number; now: Date },
): SandboxPayment {
  const share = parent.payAmount > 0 ? amount / parent.payAmount : 0;
  return {
    ...parent,
    id: context.id,
    status: 'waiting',
    scenario: REPEAT_DEPOSIT_SCENARIO,
    priceAmount: roundFor(parent.priceCurrency, parent.priceAmount * share),
    payAmount: roundFor(parent.payCurrency, amount),
    actuallyPaid: 0,
    parentPaymentId: parent.id,
    createdAt: context.now,
    updatedAt: context.now,
  };
}

/** Moves the payment to `status` with `actuallyPaid` deposited (in the pay currency). */
export function applyStatus(
  payment: SandboxPayment,
  status: PaymentStatus,
  actuallyPaid: number,
  now: Date,
): void {
  payment.status = status;
  payment.actuallyPaid = roundFor(payment.payCurrency, actuallyPaid);
  payment.updatedAt = now;
}

/** What NOWPayments keeps and what it settles to the merchant, in the pay currency. */
function settlement(p: SandboxPayment) {
  const serviceFee = roundFor(p.payCurrency, p.actuallyPaid * SERVICE_FEE_SHARE);
  // Before any deposit NOWPayments shows the outcome it expects from the full amount.
  const basis = p.actuallyPaid > 0 ? p.actuallyPaid : p.payAmount;
  const outcome = roundFor(p.payCurrency, basis * (1 - SERVICE_FEE_SHARE));
  return { serviceFee, outcome };
}

function commonFields(p: SandboxPayment) {
  return {
    payment_status: p.status,
    pay_address: p.payAddress,
    price_amount: p.priceAmount,
    price_currency: p.priceCurrency,
    pay_amount: p.payAmount,
    pay_currency: p.payCurrency,
    order_id: p.orderId,
    order_description: p.orderDescription,
    ipn_callback_url: p.ipnCallbackUrl,
    purchase_id: p.purchaseId,
    payin_extra_id: p.payinExtraId,
    network: p.network,
    is_fixed_rate: p.isFixedRate,
    is_fee_paid_by_user: p.isFeePaidByUser,
    expiration_estimate_date: p.expirationEstimateDate.toISOString(),
    valid_until: p.validUntil.toISOString(),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/** The `POST /v1/payment` answer: `payment_id` is a string there. */
export function createdPaymentView(p: SandboxPayment) {
  return { payment_id: String(p.id), ...commonFields(p) };
}

/** The `GET /v1/payment/:id` answer: `payment_id` is a number there. */
export function paymentDetailsView(p: SandboxPayment) {
  return {
    payment_id: p.id,
    ...commonFields(p),
    actually_paid: p.actuallyPaid,
    outcome_amount: settlement(p).outcome,
    outcome_currency: p.payCurrency,
    invoice_id: p.invoiceId,
    parent_payment_id: p.parentPaymentId,
  };
}

/** An IPN body: the documented fields in NOWPayments' order (not sorted), `payment_id` a number. */
export function ipnBody(p: SandboxPayment): Record<string, unknown> {
  const { serviceFee, outcome } = settlement(p);
  const paidShare = p.payAmount > 0 ? p.actuallyPaid / p.payAmount : 0;
  return {
    payment_id: p.id,
    parent_payment_id: p.parentPaymentId,
    invoice_id: p.invoiceId,
    payment_status: p.status,
    pay_address: p.payAddress,
    payin_extra_id: p.payinExtraId,
    price_amount: p.priceAmount,
    price_currency: p.priceCurrency,
    pay_amount: p.payAmount,
    actually_paid: p.actuallyPaid,
    actually_paid_at_fiat: roundFor(p.priceCurrency, p.priceAmount * paidShare),
    pay_currency: p.payCurrency,
    order_id: p.orderId,
    order_description: p.orderDescription,
    purchase_id: p.purchaseId,
    outcome_amount: outcome,
    outcome_currency: p.payCurrency,
    payment_extra_ids: null,
    fee: { currency: p.payCurrency, depositFee: 0, withdrawalFee: 0, serviceFee },
    updated_at: p.updatedAt.getTime(),
  };
}

export function invoiceView(invoice: SandboxInvoice, baseUrl: string) {
  return {
    id: String(invoice.id),
    order_id: invoice.orderId,
    order_description: invoice.orderDescription,
    price_amount: String(invoice.priceAmount),
    price_currency: invoice.priceCurrency,
    pay_currency: invoice.payCurrency,
    ipn_callback_url: invoice.ipnCallbackUrl,
    invoice_url: `${baseUrl}/sandbox/invoices/${invoice.id}`,
    success_url: invoice.successUrl,
    cancel_url: invoice.cancelUrl,
    is_fixed_rate: invoice.isFixedRate,
    is_fee_paid_by_user: invoice.isFeePaidByUser,
    created_at: invoice.createdAt.toISOString(),
    updated_at: invoice.createdAt.toISOString(),
  };
}

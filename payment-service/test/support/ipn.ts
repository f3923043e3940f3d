import { createHmac } from 'node:crypto';

/**
 * IPNs made by hand for the webhook tests, signed by a separately written implementation of
 * NOWPayments' scheme (keys sorted at every depth, compact JSON, HMAC-SHA512 hex), so the
 * service's verifier is checked against something other than itself.
 */

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sign(body: unknown, secret: string): string {
  return createHmac('sha512', secret).update(canonical(body)).digest('hex');
}

/** The mistake the scheme's nested `fee` object catches: sorting the top level only. */
export function signTopLevelOnly(body: Record<string, unknown>, secret: string): string {
  const sorted = Object.fromEntries(
    Object.keys(body)
      .sort()
      .map((k) => [k, body[k]]),
  );
  return createHmac('sha512', secret).update(JSON.stringify(sorted)).digest('hex');
}

export interface PaymentRef {
  id: string;
  providerPaymentId: string;
  payAmount: number;
  payAddress: string;
}

/** A current IPN body for one of our payments, in NOWPayments' field order (not sorted). */
export function ipnBody(
  payment: PaymentRef,
  status: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    payment_id: Number(payment.providerPaymentId),
    parent_payment_id: null,
    invoice_id: null,
    payment_status: status,
    pay_address: payment.payAddress,
    payin_extra_id: null,
    price_amount: 49,
    price_currency: 'usd',
    pay_amount: payment.payAmount,
    actually_paid: status === 'waiting' ? 0 : payment.payAmount,
    actually_paid_at_fiat: status === 'waiting' ? 0 : 49,
    pay_currency: 'btc',
    order_id: payment.id,
    order_description: 'Starter agent',
    purchase_id: '6084744717',
    outcome_amount: payment.payAmount * 0.995,
    outcome_currency: 'btc',
    payment_extra_ids: null,
    fee: {
      currency: 'btc',
      depositFee: 0,
      withdrawalFee: 0,
      serviceFee: payment.payAmount * 0.005,
    },
    ...overrides,
  };
}

/**
 * What a payment can be as far as the brain knows. A payment only moves up this order (the
 * payment service never moves one backwards, and a late or repeated message must not either):
 * a refund, asked for or made, outranks the confirmation it undoes. An underpaid payment may
 * still be completed by a later deposit, so it ranks below the confirmation.
 */
export const paymentStatusRank = {
  pending: 0,
  failed: 1,
  expired: 1,
  partially_paid: 1,
  underpaid: 1,
  mismatched: 1,
  confirmed: 2,
  refund_requested: 3,
  refunded: 4,
} as const;
export type KnownPaymentStatus = keyof typeof paymentStatusRank;

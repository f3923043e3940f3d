import { type ColumnType, type Generated } from 'kysely';
import { type AgentSpec, type BillingDetails, type PaymentDiscrepancy } from '@meetmatt/contracts';

/** The payment service's tables as kysely sees them. */

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

/** Read model: one row per payment (projections/payments.ts). */
export interface PaymentsTable {
  id: string;
  user_id: string;
  status: string;
  plan: string;
  price_amount: number;
  price_currency: string;
  pay_currency: string;
  pay_amount: number;
  pay_address: string;
  payin_extra_id: string | null;
  provider_payment_id: string;
  actually_paid: number | null;
  agent: Json<AgentSpec>;
  auto_deploy: boolean;
  invoice_number: string | null;
  invoice_issued_at: NullableTimestamp;
  /** The buyer's billing details as the invoice printed them. */
  invoice_buyer: ColumnType<BillingDetails | null, string | null, string | null>;
  confirmed_at: NullableTimestamp;
  refund_status: 'requested' | 'completed' | null;
  refund_reason: string | null;
  refund_reference: string | null;
  credit_note_number: string | null;
  credit_note_issued_at: NullableTimestamp;
  /** Why NOWPayments' `finished` was not taken as paid (underpaid, mismatched), with the figures. */
  discrepancy: ColumnType<PaymentDiscrepancy | null, string | null, string | null>;
  expires_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Read model: the status history of each payment, oldest first. */
export interface PaymentHistoryTable {
  id: Generated<number>;
  /** The event the line comes from: a replay applies it again without a second line. */
  event_id: string;
  payment_id: string;
  status: string;
  provider_status: string | null;
  source: 'created' | 'webhook' | 'reconciler' | 'operator';
  at: Timestamp;
}

/** Service table (migrations/): the first answer of each (user, Idempotency-Key). */
export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  payment_id: string;
  state: 'pending' | 'done';
  response: ColumnType<unknown, string | null, string | null>;
  lease_until: Timestamp;
  created_at: Generated<Date>;
}

/** Service table (migrations/): payments whose NOWPayments answer is not recorded yet. */
export interface PaymentOpeningsTable {
  payment_id: string;
  started_at: Generated<Date>;
  /**
   * What NOWPayments answered (the OpenPayment command's data and time), written before it is
   * recorded: a payment whose recording failed is recorded from here later, never orphaned.
   */
  answer: ColumnType<unknown, string | null | undefined, string | null>;
}

/**
 * Service table (migrations/): each buyer's billing details as the user service last published
 * them (`user.billing-details-changed`), for the invoices issued from then on.
 */
export interface BuyerBillingDetailsTable {
  user_id: string;
  billing: ColumnType<BillingDetails | null, string | null, string | null>;
  changed_at: Timestamp;
}

export interface PaymentDb {
  payments: PaymentsTable;
  payment_history: PaymentHistoryTable;
  idempotency_keys: IdempotencyKeysTable;
  payment_openings: PaymentOpeningsTable;
  buyer_billing_details: BuyerBillingDetailsTable;
}

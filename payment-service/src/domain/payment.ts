import {
  type AgentSpec,
  type EventOf,
  type PaymentStatus,
  PaymentStatusSchema,
  type paymentEvents,
} from '@meetmatt/contracts';

/**
 * The payment aggregate (stream `payment-<id>`): its events, its state and the pure `evolve`.
 * The commands and `decide` are in payment-decide.ts.
 */

type Defs = typeof paymentEvents;

export type PaymentCreated = EventOf<Defs['created']>;
export type PaymentIpnReceived = EventOf<Defs['ipnReceived']>;
export type PaymentStatusChanged = EventOf<Defs['statusChanged']>;
export type PaymentConfirmed = EventOf<Defs['confirmed']>;
export type PaymentPartiallyPaid = EventOf<Defs['partiallyPaid']>;
export type PaymentFailed = EventOf<Defs['failed']>;
export type PaymentExpired = EventOf<Defs['expired']>;
export type PaymentRefunded = EventOf<Defs['refunded']>;
export type PaymentInvoiceIssued = EventOf<Defs['invoiceIssued']>;
export type PaymentRefundRequested = EventOf<Defs['refundRequested']>;
export type PaymentRefundCompleted = EventOf<Defs['refundCompleted']>;

/** Every event of a payment's stream. */
export type PaymentEvent =
  | PaymentCreated
  | PaymentIpnReceived
  | PaymentStatusChanged
  | PaymentConfirmed
  | PaymentPartiallyPaid
  | PaymentFailed
  | PaymentExpired
  | PaymentRefunded
  | PaymentInvoiceIssued
  | PaymentRefundRequested
  | PaymentRefundCompleted;

export type RefundState =
  | { status: 'requested'; reason: string }
  | { status: 'completed'; reason: string; reference: string };

export interface OpenPayment {
  paymentId: string;
  userId: string;
  plan: string;
  priceAmount: number;
  priceCurrency: string;
  payCurrency: string;
  payAmount: number;
  providerPaymentId: string;
  agent: AgentSpec;
  autoDeploy: boolean;
  maxAcuLimit: number | undefined;
  status: PaymentStatus;
  /** Paid in full at some point (it stays true if NOWPayments later refunds it). */
  confirmed: boolean;
  actuallyPaid: number | null;
  /** Fingerprints of every provider report recorded: the same report twice changes nothing. */
  fingerprints: ReadonlySet<string>;
  invoiceNumber: string | null;
  refund: RefundState | null;
}

export type PaymentState = { exists: false } | ({ exists: true } & OpenPayment);

export const initialState = (): PaymentState => ({ exists: false });

export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === 'payment.created') {
    const d = event.data;
    return {
      exists: true,
      paymentId: d.paymentId,
      userId: d.userId,
      plan: d.plan,
      priceAmount: d.priceAmount,
      priceCurrency: d.priceCurrency,
      payCurrency: d.payCurrency,
      payAmount: d.payAmount,
      providerPaymentId: d.providerPaymentId,
      agent: d.agent,
      autoDeploy: d.autoDeploy,
      maxAcuLimit: d.maxAcuLimit,
      status: 'waiting',
      confirmed: false,
      actuallyPaid: null,
      fingerprints: new Set(),
      invoiceNumber: null,
      refund: null,
    };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'payment.ipn-received': {
      const fingerprints = new Set(state.fingerprints).add(event.data.fingerprint);
      const sameProviderPayment = event.data.providerPaymentId === state.providerPaymentId;
      const paid = sameProviderPayment ? event.data.actuallyPaid : null;
      return {
        ...state,
        fingerprints,
        actuallyPaid: paid !== null && paid > (state.actuallyPaid ?? 0) ? paid : state.actuallyPaid,
      };
    }
    case 'payment.status-changed':
      return { ...state, status: event.data.to };
    case 'payment.invoice-issued':
      return { ...state, invoiceNumber: event.data.invoiceNumber };
    case 'payment.refund-requested':
      return { ...state, refund: { status: 'requested', reason: event.data.reason } };
    case 'payment.refund-completed':
      return {
        ...state,
        refund: {
          status: 'completed',
          reason: state.refund?.reason ?? '',
          reference: event.data.reference,
        },
      };
    case 'payment.confirmed':
      return { ...state, confirmed: true };
    case 'payment.partially-paid':
    case 'payment.failed':
    case 'payment.expired':
    case 'payment.refunded':
      // The status-changed event appended with each of these already moved the status.
      return state;
  }
}

/**
 * NOWPayments statuses ranked along the way a payment goes. A payment only ever moves to a
 * higher rank; the final statuses outrank every intermediate one, and `refunded` (the provider
 * sending the money back) outranks them all.
 */
const RANK: Record<PaymentStatus, number> = {
  waiting: 0,
  confirming: 1,
  confirmed: 2,
  sending: 3,
  partially_paid: 4,
  finished: 4,
  failed: 4,
  expired: 4,
  cancelled: 4,
  refunded: 5,
};

/** After these NOWPayments sends nothing more for the payment (EXTERNAL-APIS.md). */
export const FINAL_STATUSES: readonly PaymentStatus[] = [
  'finished',
  'partially_paid',
  'failed',
  'refunded',
  'expired',
  'cancelled',
];

/** Statuses the reconciler still asks NOWPayments about. */
export const OPEN_STATUSES: readonly PaymentStatus[] = PaymentStatusSchema.options.filter(
  (status) => !FINAL_STATUSES.includes(status),
);

export function isFinal(status: PaymentStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Whether `to` moves a payment in `from` forward; a final status only gives way to `refunded`. */
export function movesForward(from: PaymentStatus, to: PaymentStatus): boolean {
  if (isFinal(from)) return to === 'refunded' && from !== 'refunded';
  return RANK[to] > RANK[from];
}

/** A status we know, or null for one NOWPayments invented after we were written. */
export function knownStatus(providerStatus: string): PaymentStatus | null {
  const parsed = PaymentStatusSchema.safeParse(providerStatus);
  return parsed.success ? parsed.data : null;
}

/** Paid, in full or in part: what a refund can give back. */
export function isPaid(status: PaymentStatus): boolean {
  return status === 'finished' || status === 'partially_paid';
}

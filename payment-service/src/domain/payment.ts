import {
  type AgentSpec,
  type BillingDetails,
  type EventOf,
  type PaymentStatus,
  PaymentStatusSchema,
  type ProviderPaymentStatus,
  ProviderPaymentStatusSchema,
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
export type PaymentUnderpaid = EventOf<Defs['underpaid']>;
export type PaymentMismatched = EventOf<Defs['mismatched']>;
export type PaymentFailed = EventOf<Defs['failed']>;
export type PaymentExpired = EventOf<Defs['expired']>;
export type PaymentRefunded = EventOf<Defs['refunded']>;
export type PaymentInvoiceIssued = EventOf<Defs['invoiceIssued']>;
export type PaymentRefundRequested = EventOf<Defs['refundRequested']>;
export type PaymentRefundCompleted = EventOf<Defs['refundCompleted']>;
export type PaymentCreditNoteIssued = EventOf<Defs['creditNoteIssued']>;

/** Every event of a payment's stream. */
export type PaymentEvent =
  | PaymentCreated
  | PaymentIpnReceived
  | PaymentStatusChanged
  | PaymentConfirmed
  | PaymentPartiallyPaid
  | PaymentUnderpaid
  | PaymentMismatched
  | PaymentFailed
  | PaymentExpired
  | PaymentRefunded
  | PaymentInvoiceIssued
  | PaymentRefundRequested
  | PaymentRefundCompleted
  | PaymentCreditNoteIssued;

export type RefundState =
  | { status: 'requested'; reason: string }
  | { status: 'completed'; reason: string; reference: string };

/**
 * One deposit NOWPayments reported for the payment: its own payment (`providerPaymentId`), or a
 * repeat deposit to the same address, which NOWPayments makes a payment of its own with
 * `parent_payment_id` set to ours.
 */
export interface Deposit {
  /**
   * What arrived, as reported with `finished` or `partially_paid` (NOWPayments keeps the funds,
   * so they count); null until such a report. Earlier statuses' figures do not count.
   */
  settledPaid: number | null;
  /** The coin it arrived in, lower case; null when not reported. */
  payCurrency: string | null;
}

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
  /** Every deposit reported, ours and repeat ones, by NOWPayments payment id. */
  deposits: ReadonlyMap<string, Deposit>;
  /** Fingerprints of every provider report recorded: the same report twice changes nothing. */
  fingerprints: ReadonlySet<string>;
  invoiceNumber: string | null;
  /** The buyer's billing details the invoice printed (null: none given, or no invoice yet). */
  invoiceBuyer: BillingDetails | null;
  refund: RefundState | null;
  creditNoteNumber: string | null;
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
      deposits: new Map(),
      fingerprints: new Set(),
      invoiceNumber: null,
      invoiceBuyer: null,
      refund: null,
      creditNoteNumber: null,
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
        deposits: withDeposit(state, event.data),
      };
    }
    case 'payment.status-changed':
      return { ...state, status: event.data.to };
    case 'payment.invoice-issued':
      return {
        ...state,
        invoiceNumber: event.data.invoiceNumber,
        invoiceBuyer: event.data.buyer ?? null,
      };
    case 'payment.credit-note-issued':
      return { ...state, creditNoteNumber: event.data.creditNoteNumber };
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
    case 'payment.underpaid':
    case 'payment.mismatched':
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
  underpaid: 4,
  mismatched: 4,
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
  'underpaid',
  'mismatched',
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

/**
 * A NOWPayments status we know, or null for one it invented after we were written. Our own
 * statuses (`underpaid`, `mismatched`) are not NOWPayments': a report naming them is unknown.
 */
export function knownStatus(providerStatus: string): ProviderPaymentStatus | null {
  const parsed = ProviderPaymentStatusSchema.safeParse(providerStatus);
  return parsed.success ? parsed.data : null;
}

/** Money arrived and NOWPayments kept it, in full or in part: what a refund can give back. */
export function isPaid(status: PaymentStatus): boolean {
  return (
    status === 'finished' ||
    status === 'partially_paid' ||
    status === 'underpaid' ||
    status === 'mismatched'
  );
}

/** NOWPayments keeps the funds of a deposit in these statuses: they count towards the amount. */
const SETTLED: readonly string[] = ['finished', 'partially_paid'];

/** The deposits once this report is folded in; a report about another payment changes none. */
function withDeposit(
  state: OpenPayment,
  report: PaymentIpnReceived['data'],
): ReadonlyMap<string, Deposit> {
  const ours =
    report.providerPaymentId === state.providerPaymentId ||
    report.parentProviderPaymentId === state.providerPaymentId;
  if (!ours) return state.deposits;
  const known = state.deposits.get(report.providerPaymentId);
  const settles = SETTLED.includes(report.providerStatus);
  const deposit: Deposit = {
    settledPaid: settles
      ? Math.max(known?.settledPaid ?? 0, report.actuallyPaid ?? 0)
      : (known?.settledPaid ?? null),
    payCurrency: report.payCurrency?.toLowerCase() ?? known?.payCurrency ?? null,
  };
  return new Map(state.deposits).set(report.providerPaymentId, deposit);
}

/** What arrived and counts: the settled deposits in the payment's own coin, summed. */
export function received(state: OpenPayment): number {
  let sum = 0;
  for (const deposit of state.deposits.values())
    if (deposit.settledPaid !== null && deposit.payCurrency === state.payCurrency)
      sum += deposit.settledPaid;
  return sum;
}

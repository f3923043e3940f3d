import {
  type AgentSpec,
  type BillingDetails,
  type PaymentFigure,
  type PaymentStatus,
  type ProviderPaymentStatus,
} from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import {
  type OpenPayment,
  type PaymentEvent,
  type PaymentState,
  evolve,
  initialState,
  isPaid,
  knownStatus,
  movesForward,
  received,
} from './payment';

/** Opens the payment once NOWPayments has answered (its answer arrives on the command). */
export interface OpenPaymentCommand {
  type: 'OpenPayment';
  data: {
    paymentId: string;
    userId: string;
    plan: string;
    priceAmount: number;
    priceCurrency: string;
    payCurrency: string;
    payAmount: number;
    payAddress: string;
    payinExtraId: string | null;
    providerPaymentId: string;
    expiresAt: string | null;
    agent: AgentSpec;
    autoDeploy: boolean;
    maxAcuLimit?: number | undefined;
  };
  now: string;
}

/** What NOWPayments told us about the payment: a verified IPN, or our poll of GET /v1/payment. */
export interface ProviderReport {
  providerPaymentId: string;
  /** Verbatim; statuses we do not know are recorded and change nothing. */
  providerStatus: string;
  actuallyPaid: number | null;
  outcomeAmount: number | null;
  /** `parent_payment_id`: set on a repeat deposit NOWPayments made a payment of its own. */
  parentProviderPaymentId: string | null;
  /** The figures NOWPayments reports, checked against ours before a payment is confirmed. */
  payCurrency: string | null;
  payAmount: number | null;
  priceAmount: number | null;
  priceCurrency: string | null;
  source: 'webhook' | 'reconciler';
  /** Hash of what was reported: the same report twice has the same fingerprint. */
  fingerprint: string;
}

export interface RecordProviderReportCommand {
  type: 'RecordProviderReport';
  report: ProviderReport;
  /**
   * The share of the crypto amount that may be missing and the payment still count as paid
   * (PAYMENT_UNDERPAYMENT_TOLERANCE, 0.005 by default): network fees and rounding.
   */
  underpaymentTolerance: number;
  now: string;
}

export interface IssueInvoiceCommand {
  type: 'IssueInvoice';
  /** Allocated beforehand from the year's counter stream. */
  invoiceNumber: string;
  /** The buyer's billing details now (read from the payment service's copy), printed as they are. */
  buyer: BillingDetails | null;
  now: string;
}

export interface IssueCreditNoteCommand {
  type: 'IssueCreditNote';
  /** Allocated beforehand from the year's credit-note counter stream. */
  creditNoteNumber: string;
  now: string;
}

export interface RequestRefundCommand {
  type: 'RequestRefund';
  reason: string;
  requestedBy: 'operator' | 'system';
  operatorId: string | null;
  now: string;
}

export interface CompleteRefundCommand {
  type: 'CompleteRefund';
  reference: string;
  operatorId: string;
  now: string;
}

export type PaymentCommand =
  | OpenPaymentCommand
  | RecordProviderReportCommand
  | IssueInvoiceCommand
  | RequestRefundCommand
  | CompleteRefundCommand
  | IssueCreditNoteCommand;

type Decision = PaymentEvent[] | DomainError;

export const PAYMENT_NOT_FOUND = 'payment-not-found';

const notFound = () => domainError(PAYMENT_NOT_FOUND, 'No such payment');

export function openPayment(command: OpenPaymentCommand, state: PaymentState): Decision {
  if (state.exists) return domainError('payment-exists', 'The payment is already open');
  const { maxAcuLimit, ...data } = command.data;
  return [
    {
      type: 'payment.created',
      data: { ...data, ...(maxAcuLimit ? { maxAcuLimit } : {}), createdAt: command.now },
    },
  ];
}

/**
 * The report is recorded as evidence, then moves the payment if it is news: a report seen
 * before changes nothing; one that would move the payment backwards or names a status we do not
 * know is recorded and ignored. NOWPayments' word is not enough to confirm: `finished` confirms
 * only when the coin, the price and what arrived are what we asked for (see `judge`). A repeat
 * deposit (a NOWPayments payment whose `parent_payment_id` is ours) moves no status of its own:
 * it adds to what arrived, and confirms the payment once the deposits add up to the amount.
 */
export function recordProviderReport(
  command: RecordProviderReportCommand,
  state: PaymentState,
): Decision {
  if (!state.exists) return notFound();
  const { report, now } = command;
  if (state.fingerprints.has(report.fingerprint)) return [];
  const evidence: PaymentEvent = {
    type: 'payment.ipn-received',
    data: {
      paymentId: state.paymentId,
      providerPaymentId: report.providerPaymentId,
      providerStatus: report.providerStatus,
      actuallyPaid: report.actuallyPaid,
      outcomeAmount: report.outcomeAmount,
      parentProviderPaymentId: report.parentProviderPaymentId,
      payCurrency: report.payCurrency,
      payAmount: report.payAmount,
      priceAmount: report.priceAmount,
      priceCurrency: report.priceCurrency,
      source: report.source,
      fingerprint: report.fingerprint,
      receivedAt: now,
    },
  };
  const main = report.providerPaymentId === state.providerPaymentId;
  const repeat = !main && report.parentProviderPaymentId === state.providerPaymentId;
  if (!main && !repeat) return [evidence];
  const after = evolve(state, evidence) as typeof state;
  const to = main ? knownStatus(report.providerStatus) : null;
  if (to === null || !movesForward(state.status, to)) {
    // A later report of NOWPayments' own payment completes it only with figures that are ours.
    if (main && judge(command, after).kind === 'mismatched') return [evidence];
    return [evidence, ...completion(command, after)];
  }
  return [evidence, ...moveTo(to, command, after)];
}

/** The events of a status NOWPayments reported for its payment that moves ours forward. */
function moveTo(
  to: ProviderPaymentStatus,
  command: RecordProviderReportCommand,
  state: OpenPayment,
): PaymentEvent[] {
  if (to === 'finished') {
    const verdict = judge(command, state);
    switch (verdict.kind) {
      case 'paid':
        return confirm(command, state, verdict.received);
      case 'underpaid':
        return [
          statusChanged(command, state, 'underpaid', verdict.received),
          {
            type: 'payment.underpaid',
            data: {
              paymentId: state.paymentId,
              userId: state.userId,
              payCurrency: state.payCurrency,
              payAmount: state.payAmount,
              actuallyPaid: verdict.received,
              shortfall: state.payAmount - verdict.received,
              tolerance: command.underpaymentTolerance,
              providerPaymentId: command.report.providerPaymentId,
              providerStatus: command.report.providerStatus,
              at: command.now,
            },
          },
        ];
      case 'mismatched':
        return [
          statusChanged(command, state, 'mismatched', state.actuallyPaid),
          {
            type: 'payment.mismatched',
            data: {
              paymentId: state.paymentId,
              userId: state.userId,
              mismatches: verdict.mismatches,
              providerPaymentId: command.report.providerPaymentId,
              providerStatus: command.report.providerStatus,
              at: command.now,
            },
          },
        ];
    }
  }
  // Repeat deposits that already arrived may complete what NOWPayments calls partially paid.
  if (to === 'partially_paid' && state.deposits.size > 1 && enough(command, state)) {
    return confirm(command, state, received(state));
  }
  return [
    statusChanged(command, state, to, state.actuallyPaid),
    ...outcomeOf(to, state, command.now),
  ];
}

/** Statuses from which deposits adding up to the amount confirm the payment. */
const COMPLETABLE: readonly PaymentStatus[] = [
  'waiting',
  'confirming',
  'confirmed',
  'sending',
  'partially_paid',
  'underpaid',
  'expired',
];

/** A report that moved no status may still be the deposit that completes the amount. */
function completion(command: RecordProviderReportCommand, state: OpenPayment): PaymentEvent[] {
  if (state.confirmed || !COMPLETABLE.includes(state.status) || !enough(command, state)) return [];
  return confirm(command, state, received(state));
}

type Verdict =
  | { kind: 'paid'; received: number }
  | { kind: 'underpaid'; received: number }
  | { kind: 'mismatched'; mismatches: PaymentFigure[] };

/**
 * Whether NOWPayments' `finished` is the money we asked for: its coin and price are ours, and the
 * settled deposits in our coin reach the amount within the tolerance. A figure not reported
 * cannot be checked, so it does not match.
 */
export function judge(command: RecordProviderReportCommand, state: OpenPayment): Verdict {
  const { report } = command;
  const mismatches: PaymentFigure[] = [];
  if (report.payCurrency?.toLowerCase() !== state.payCurrency)
    mismatches.push({
      field: 'payCurrency',
      expected: state.payCurrency,
      actual: report.payCurrency,
    });
  if (report.priceAmount === null || Math.abs(report.priceAmount - state.priceAmount) >= 0.005)
    mismatches.push({
      field: 'priceAmount',
      expected: state.priceAmount,
      actual: report.priceAmount,
    });
  if (report.priceCurrency?.toLowerCase() !== state.priceCurrency.toLowerCase()) {
    mismatches.push({
      field: 'priceCurrency',
      expected: state.priceCurrency,
      actual: report.priceCurrency,
    });
  }
  if (mismatches.length > 0) return { kind: 'mismatched', mismatches };
  const sum = received(state);
  return enough(command, state)
    ? { kind: 'paid', received: sum }
    : { kind: 'underpaid', received: sum };
}

/** The settled deposits reach the amount, within the tolerance (and a float's last digit). */
function enough(command: RecordProviderReportCommand, state: OpenPayment): boolean {
  const required = state.payAmount * (1 - command.underpaymentTolerance);
  return received(state) >= required - state.payAmount * 1e-9;
}

function confirm(
  command: RecordProviderReportCommand,
  state: OpenPayment,
  paid: number,
): PaymentEvent[] {
  return [
    statusChanged(command, state, 'finished', paid),
    {
      type: 'payment.confirmed',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        plan: state.plan,
        priceAmount: state.priceAmount,
        priceCurrency: state.priceCurrency,
        payCurrency: state.payCurrency,
        actuallyPaid: paid,
        agent: state.agent,
        autoDeploy: state.autoDeploy,
        ...(state.maxAcuLimit ? { maxAcuLimit: state.maxAcuLimit } : {}),
        confirmedAt: command.now,
      },
    },
  ];
}

function statusChanged(
  command: RecordProviderReportCommand,
  state: OpenPayment,
  to: PaymentStatus,
  actuallyPaid: number | null,
): PaymentEvent {
  return {
    type: 'payment.status-changed',
    data: {
      paymentId: state.paymentId,
      userId: state.userId,
      from: state.status,
      to,
      source: command.report.source,
      providerStatus: command.report.providerStatus,
      actuallyPaid,
      changedAt: command.now,
    },
  };
}

/** The event that says what a status means for the business, when it means something. */
function outcomeOf(status: ProviderPaymentStatus, state: OpenPayment, now: string): PaymentEvent[] {
  const { paymentId, userId } = state;
  switch (status) {
    case 'partially_paid':
      return [
        {
          type: 'payment.partially-paid',
          data: {
            paymentId,
            userId,
            actuallyPaid: state.actuallyPaid,
            payAmount: state.payAmount,
            payCurrency: state.payCurrency,
            at: now,
          },
        },
      ];
    case 'failed':
      return [
        {
          type: 'payment.failed',
          data: { paymentId, userId, reason: 'NOWPayments reported the payment failed', at: now },
        },
      ];
    case 'cancelled':
      return [
        {
          type: 'payment.failed',
          data: { paymentId, userId, reason: 'The payment was cancelled at NOWPayments', at: now },
        },
      ];
    case 'expired':
      return [{ type: 'payment.expired', data: { paymentId, userId, at: now } }];
    case 'refunded':
      return [{ type: 'payment.refunded', data: { paymentId, userId, at: now } }];
    case 'finished': // judged in moveTo
    case 'waiting':
    case 'confirming':
    case 'confirmed':
    case 'sending':
      return [];
  }
}

export function issueInvoice(command: IssueInvoiceCommand, state: PaymentState): Decision {
  if (!state.exists) return notFound();
  if (state.invoiceNumber === command.invoiceNumber) return [];
  if (state.invoiceNumber !== null) {
    return domainError(
      'invoice-already-issued',
      `Invoice ${state.invoiceNumber} was already issued for this payment`,
    );
  }
  if (!state.confirmed)
    return domainError('payment-not-confirmed', 'Only a confirmed payment is invoiced');
  return [
    {
      type: 'payment.invoice-issued',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        invoiceNumber: command.invoiceNumber,
        amount: state.priceAmount,
        currency: state.priceCurrency,
        plan: state.plan,
        buyer: command.buyer,
        issuedAt: command.now,
      },
    },
  ];
}

/**
 * A completed refund gives back what the invoice charged: the credit note references the
 * invoice, prints its buyer, and carries the amount negated. One per refund: the number it
 * took is the only one it ever has (a retry with it changes nothing).
 */
export function issueCreditNote(command: IssueCreditNoteCommand, state: PaymentState): Decision {
  if (!state.exists) return notFound();
  if (state.creditNoteNumber === command.creditNoteNumber) return [];
  if (state.creditNoteNumber !== null) {
    return domainError(
      'credit-note-already-issued',
      `Credit note ${state.creditNoteNumber} was already issued for this payment`,
    );
  }
  if (state.refund?.status !== 'completed')
    return domainError('refund-not-completed', 'Only a completed refund gets a credit note');
  if (state.invoiceNumber === null)
    return domainError(
      'invoice-not-issued',
      'No invoice to credit: the payment was never invoiced',
    );
  return [
    {
      type: 'payment.credit-note-issued',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        creditNoteNumber: command.creditNoteNumber,
        invoiceNumber: state.invoiceNumber,
        amount: state.priceAmount === 0 ? 0 : -state.priceAmount,
        currency: state.priceCurrency,
        plan: state.plan,
        reason: state.refund.reason,
        refundReference: state.refund.reference,
        buyer: state.invoiceBuyer,
        issuedAt: command.now,
      },
    },
  ];
}

/**
 * An operator asking twice is told so; the system (a deployment that failed for good) asking
 * again, as a redelivered message does, changes nothing.
 */
export function requestRefund(command: RequestRefundCommand, state: PaymentState): Decision {
  if (!state.exists) return notFound();
  if (state.refund) {
    if (command.requestedBy === 'system') return [];
    return domainError(
      state.refund.status === 'completed' ? 'refund-already-completed' : 'refund-already-requested',
      `A refund was already ${state.refund.status} for this payment`,
    );
  }
  if (!isPaid(state.status)) {
    return domainError(
      'payment-not-paid',
      `Nothing to refund: the payment is ${state.status.replace('_', ' ')}`,
    );
  }
  return [
    {
      type: 'payment.refund-requested',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        reason: command.reason,
        requestedBy: command.requestedBy,
        operatorId: command.operatorId,
        requestedAt: command.now,
      },
    },
  ];
}

export function completeRefund(command: CompleteRefundCommand, state: PaymentState): Decision {
  if (!state.exists) return notFound();
  if (!state.refund)
    return domainError('refund-not-requested', 'No refund was requested for this payment');
  if (state.refund.status === 'completed')
    return domainError('refund-already-completed', 'The refund was already completed');
  return [
    {
      type: 'payment.refund-completed',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        reference: command.reference,
        operatorId: command.operatorId,
        completedAt: command.now,
      },
    },
  ];
}

export function decide(command: PaymentCommand, state: PaymentState): Decision {
  switch (command.type) {
    case 'OpenPayment':
      return openPayment(command, state);
    case 'RecordProviderReport':
      return recordProviderReport(command, state);
    case 'IssueInvoice':
      return issueInvoice(command, state);
    case 'RequestRefund':
      return requestRefund(command, state);
    case 'CompleteRefund':
      return completeRefund(command, state);
    case 'IssueCreditNote':
      return issueCreditNote(command, state);
    default: {
      const unexpected: never = command;
      throw new Error(`unknown command ${JSON.stringify(unexpected)}`);
    }
  }
}

export const paymentDecider: Decider<PaymentCommand, PaymentEvent, PaymentState> = {
  initialState,
  evolve,
  decide,
};

export function paymentStreamId(paymentId: string): string {
  return `payment-${paymentId}`;
}

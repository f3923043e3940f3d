import { type AgentSpec, type PaymentStatus } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError } from '@meetmatt/infra';
import {
  type OpenPayment,
  type PaymentEvent,
  type PaymentState,
  evolve,
  initialState,
  isPaid,
  knownStatus,
  movesForward,
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
  source: 'webhook' | 'reconciler';
  /** Hash of what was reported: the same report twice has the same fingerprint. */
  fingerprint: string;
}

export interface RecordProviderReportCommand {
  type: 'RecordProviderReport';
  report: ProviderReport;
  now: string;
}

export interface IssueInvoiceCommand {
  type: 'IssueInvoice';
  /** Allocated beforehand from the year's counter stream. */
  invoiceNumber: string;
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
  | CompleteRefundCommand;

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
 * before changes nothing; one that would move the payment backwards, names a status we do not
 * know, or concerns another NOWPayments payment (a repeat deposit) is recorded and ignored.
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
      source: report.source,
      fingerprint: report.fingerprint,
      receivedAt: now,
    },
  };
  const to = knownStatus(report.providerStatus);
  if (
    report.providerPaymentId !== state.providerPaymentId ||
    to === null ||
    !movesForward(state.status, to)
  ) {
    return [evidence];
  }
  const afterEvidence = evolve(state, evidence) as typeof state;
  return [
    evidence,
    {
      type: 'payment.status-changed',
      data: {
        paymentId: state.paymentId,
        userId: state.userId,
        from: state.status,
        to,
        source: report.source,
        providerStatus: report.providerStatus,
        actuallyPaid: afterEvidence.actuallyPaid,
        changedAt: now,
      },
    },
    ...outcomeOf(to, afterEvidence, now),
  ];
}

/** The event that says what a status means for the business, when it means something. */
function outcomeOf(status: PaymentStatus, state: OpenPayment, now: string): PaymentEvent[] {
  const { paymentId, userId } = state;
  switch (status) {
    case 'finished':
      return [
        {
          type: 'payment.confirmed',
          data: {
            paymentId,
            userId,
            plan: state.plan,
            priceAmount: state.priceAmount,
            priceCurrency: state.priceCurrency,
            payCurrency: state.payCurrency,
            actuallyPaid: state.actuallyPaid,
            agent: state.agent,
            autoDeploy: state.autoDeploy,
            ...(state.maxAcuLimit ? { maxAcuLimit: state.maxAcuLimit } : {}),
            confirmedAt: now,
          },
        },
      ];
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

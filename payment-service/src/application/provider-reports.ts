import { createHash } from 'node:crypto';
import { type NowPaymentsIpn, type PaymentStatus } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type Logger,
  type Position,
  causalMetadata,
  sleep,
} from '@meetmatt/infra';
import { PAYMENT_NOT_FOUND, type ProviderReport, paymentStreamId } from '../domain/payment-decide';
import { type NowPaymentDetails } from '../nowpayments';
import { canonicalIpnJson } from '../nowpayments/signature';
import { recordAnsweredOpening } from './abandoned-openings';
import { type PaymentOpenings } from './openings';
import { type PaymentCommands, nowIso } from './payment-commands';

export type ReportOutcome =
  /** No such payment of ours: logged, and the provider is told it was received. */
  | { kind: 'unknown-payment' }
  /** A payment being opened whose NOWPayments answer is not recorded yet: to be sent again. */
  | { kind: 'not-yet-recorded' }
  /** Seen before (same fingerprint): nothing recorded. */
  | { kind: 'duplicate' }
  /** Recorded as evidence; `changed` when it moved the payment forward. */
  | {
      kind: 'recorded';
      changed: { from: PaymentStatus; to: PaymentStatus } | null;
      position: Position | undefined;
    };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What NOWPayments says about a payment, from a verified IPN (the webhook) or from our own poll
 * (the reconciler), goes through this one path: recorded on the payment's stream, then the
 * decider moves the payment forward when the report is news.
 */
export interface ProviderReportsOptions {
  commands: PaymentCommands;
  openings: PaymentOpenings;
  logger: Logger;
  /** PAYMENT_UNDERPAYMENT_TOLERANCE: the share of the crypto amount that may be missing. */
  underpaymentTolerance: number;
  /**
   * Our payment whose NOWPayments payment is this one: a repeat deposit's IPN may not carry our
   * `order_id`, only its `parent_payment_id`.
   */
  paymentOfProviderPayment?: (providerPaymentId: string) => Promise<string | undefined>;
  /** How long a report for a payment being opened waits for it to be recorded. */
  openingWaitMs?: number;
}

export class ProviderReports {
  private readonly commands: PaymentCommands;
  private readonly logger: Logger;

  constructor(private readonly options: ProviderReportsOptions) {
    this.commands = options.commands;
    this.logger = options.logger;
  }

  async record(
    paymentId: string | null | undefined,
    report: ProviderReport,
    metadata: Partial<CausalMetadata> = causalMetadata(),
  ): Promise<ReportOutcome> {
    const fields = {
      paymentId,
      providerPaymentId: report.providerPaymentId,
      providerStatus: report.providerStatus,
      source: report.source,
    };
    if ((!paymentId || !UUID.test(paymentId)) && report.parentProviderPaymentId) {
      paymentId = await this.options.paymentOfProviderPayment?.(report.parentProviderPaymentId);
    }
    if (!paymentId || !UUID.test(paymentId)) {
      this.logger.warn('nowpayments report for an unknown payment', fields);
      return { kind: 'unknown-payment' };
    }
    const command = {
      type: 'RecordProviderReport' as const,
      report,
      underpaymentTolerance: this.options.underpaymentTolerance,
      now: nowIso(),
    };
    // The one retry on this path is the command handler's: an IPN racing another for the same
    // payment (NOWPayments' duplicates) is decided again on the new state, 10 attempts in all.
    // The event store under it appends once (an exact expected revision never loops there); a
    // payment not found is looked for once (below) and the report then sent once more.
    let result = await this.commands.execute(paymentId, command, metadata);
    if (!result.ok && result.error.code === PAYMENT_NOT_FOUND) {
      const found = await this.findOpening(paymentId);
      if (found === 'being-opened') {
        this.logger.info('nowpayments report for a payment still being opened', fields);
        return { kind: 'not-yet-recorded' };
      }
      if (found === 'unknown') {
        this.logger.warn('nowpayments report for an unknown payment', fields);
        return { kind: 'unknown-payment' };
      }
      result = await this.commands.execute(paymentId, command, metadata);
    }
    if (!result.ok) throw new Error(result.error.message);
    if (result.events.length === 0) {
      if (this.logger.isDebugEnabled())
        this.logger.debug('nowpayments report already recorded', fields);
      return { kind: 'duplicate' };
    }
    const change = result.events.find((e) => e.type === 'payment.status-changed');
    const changed = change ? { from: change.data.from, to: change.data.to } : null;
    const refused = result.events.find(
      (e) => e.type === 'payment.underpaid' || e.type === 'payment.mismatched',
    );
    // Not an error of ours, but money an operator has to look at: said loudly, with the figures.
    if (refused)
      this.logger.warn(`payment not confirmed: ${refused.type}`, { ...fields, ...refused.data });
    // Checked first: on the webhook's hot path, winston would format the entry before dropping it.
    if (this.logger.isInfoEnabled()) {
      this.logger.info(changed ? 'payment moved' : 'nowpayments report recorded', {
        ...fields,
        ...(changed ?? { status: result.state.exists ? result.state.status : undefined }),
      });
    }
    return { kind: 'recorded', changed, position: result.position };
  }

  /**
   * Records the payments NOWPayments opened whose recording was abandoned over `olderThanMs`
   * ago (the reconciler runs it each round): how many were recorded.
   */
  async recoverAbandonedOpenings(olderThanMs: number): Promise<number> {
    let count = 0;
    for (const paymentId of await this.options.openings.abandonedAnswers(olderThanMs)) {
      try {
        if (
          await recordAnsweredOpening(paymentId, this.commands, this.options.openings, this.logger)
        )
          count += 1;
      } catch (error) {
        this.logger.warn('abandoned payment opening not recorded yet', {
          paymentId,
          error: (error as Error).message,
        });
      }
    }
    return count;
  }

  /**
   * A payment whose stream was not there: perhaps the IPN overtook NOWPayments' answer to our
   * own request (wait for it while the payment is being opened), or NOWPayments answered but
   * recording its answer failed (record it now from the kept answer).
   */
  private async findOpening(paymentId: string): Promise<'recorded' | 'being-opened' | 'unknown'> {
    if (await this.recorded(paymentId)) return 'recorded';
    if (await recordAnsweredOpening(paymentId, this.commands, this.options.openings, this.logger))
      return 'recorded';
    return (await this.options.openings.isOpening(paymentId)) ? 'being-opened' : 'unknown';
  }

  /** Whether the payment's stream exists, waiting for it while the payment is being opened. */
  private async recorded(paymentId: string): Promise<boolean> {
    const deadline = Date.now() + (this.options.openingWaitMs ?? 1_500);
    const streamId = paymentStreamId(paymentId);
    for (;;) {
      if (await this.commands.store.streamExists(streamId)) return true;
      if (Date.now() > deadline || !(await this.options.openings.isOpening(paymentId)))
        return this.commands.store.streamExists(streamId);
      await sleep(20);
    }
  }
}

/**
 * A verified IPN as a report; its fingerprint is the hash of the text that was signed (the
 * canonical, key-sorted body), so the same IPN twice has the same fingerprint.
 */
export function reportFromIpn(ipn: NowPaymentsIpn, signedText: string): ProviderReport {
  return {
    providerPaymentId: ipn.payment_id,
    providerStatus: ipn.payment_status,
    actuallyPaid: ipn.actually_paid ?? null,
    outcomeAmount: ipn.outcome_amount ?? null,
    parentProviderPaymentId: providerId(ipn.parent_payment_id),
    payCurrency: ipn.pay_currency ?? null,
    payAmount: ipn.pay_amount ?? null,
    priceAmount: ipn.price_amount ?? null,
    priceCurrency: ipn.price_currency ?? null,
    source: 'webhook',
    fingerprint: sha256(signedText),
  };
}

/**
 * Our poll of GET /v1/payment/:id as a report. Its fingerprint covers what the poll learns, so
 * polling a payment that has not moved records nothing new.
 */
export function reportFromPoll(details: NowPaymentDetails): ProviderReport {
  const learned = {
    source: 'reconciler',
    paymentId: details.paymentId,
    status: details.status,
    actuallyPaid: details.actuallyPaid,
    outcomeAmount: details.outcomeAmount,
    updatedAt: details.updatedAt,
  };
  return {
    providerPaymentId: details.paymentId,
    providerStatus: details.status,
    actuallyPaid: details.actuallyPaid,
    outcomeAmount: details.outcomeAmount,
    parentProviderPaymentId: details.parentPaymentId,
    payCurrency: details.payCurrency,
    payAmount: details.payAmount,
    priceAmount: details.priceAmount,
    priceCurrency: details.priceCurrency,
    source: 'reconciler',
    fingerprint: sha256(canonicalIpnJson(learned)),
  };
}

/** NOWPayments ids arrive as numbers or strings; ours are strings, absent ones null. */
function providerId(id: string | number | null | undefined): string | null {
  return id === null || id === undefined || id === '' ? null : String(id);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

import { randomUUID } from 'node:crypto';
import { type PaymentStatus } from '@meetmatt/contracts';
import { LeaderLock, type Logger, requestContext, sleep } from '@meetmatt/infra';
import { type NowPaymentsClient, NowPaymentsError } from '../nowpayments';
import { type PaymentQueries } from '../projections/payment-queries';
import { type ProviderReports, reportFromPoll } from './provider-reports';

export interface ReconcileResult {
  /** Payments asked about. */
  examined: number;
  /** Those whose status moved, and how. */
  changed: { paymentId: string; from: PaymentStatus; to: PaymentStatus }[];
  /** Those NOWPayments could not tell us about this time. */
  failed: { paymentId: string; error: string }[];
}

export interface ReconcilerOptions {
  provider: NowPaymentsClient;
  reports: ProviderReports;
  queries: PaymentQueries;
  logger: Logger;
  /** Payments asked about per round. */
  batchSize: number;
}

/** An opening answered by NOWPayments but not recorded for this long was abandoned. */
const ABANDONED_AFTER_MS = 30_000;

/**
 * A lost IPN must not lose a sale: payments NOWPayments may still move, opened long enough ago,
 * are looked up with GET /v1/payment/:id and what it says goes through the same path as an IPN.
 */
export class Reconciler {
  constructor(private readonly options: ReconcilerOptions) {}

  /** One round (the operator CLI calls it too): returns what changed. */
  async reconcileOnce({ olderThanMs }: { olderThanMs: number }): Promise<ReconcileResult> {
    const { provider, reports, queries, logger, batchSize } = this.options;
    // First the payments NOWPayments opened whose recording failed: then they are polled too.
    await reports.recoverAbandonedOpenings(Math.min(olderThanMs, ABANDONED_AFTER_MS));
    const due = await queries.openBefore(new Date(Date.now() - olderThanMs), batchSize);
    const result: ReconcileResult = { examined: due.length, changed: [], failed: [] };
    for (const payment of due) {
      const correlationId = randomUUID();
      await requestContext.run({ correlationId }, async () => {
        try {
          const details = await provider.getPayment(payment.provider_payment_id);
          const outcome = await reports.record(payment.id, reportFromPoll(details));
          if (outcome.kind === 'recorded' && outcome.changed)
            result.changed.push({ paymentId: payment.id, ...outcome.changed });
        } catch (error) {
          const message =
            error instanceof NowPaymentsError ? error.message : (error as Error).message;
          result.failed.push({ paymentId: payment.id, error: message });
          logger.warn('reconciliation of a payment failed', {
            paymentId: payment.id,
            error: message,
          });
        }
      });
    }
    if (result.examined > 0) {
      logger.info('reconciliation round', {
        examined: result.examined,
        changed: result.changed.length,
        failed: result.failed.length,
      });
    }
    return result;
  }
}

export interface ReconcilerScheduleOptions {
  reconciler: Reconciler;
  /** The service's database: its advisory lock picks the one instance that reconciles. */
  connectionString: string;
  intervalMs: number;
  minAgeMs: number;
  logger: Logger;
}

/** Runs a round every `intervalMs` on the one instance holding the `payment-reconciler` lock. */
export class ReconcilerSchedule {
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly options: ReconcilerScheduleOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: 'payment-reconciler',
      logger: options.logger,
    });
  }

  start(): void {
    this.running ??= this.lock.run((signal) => this.loop(signal));
  }

  async stop(): Promise<void> {
    const stopping = this.lock.stop();
    this.stopping.abort();
    await stopping;
    await this.running;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const stopOrLoss = AbortSignal.any([signal, this.stopping.signal]);
    while (!stopOrLoss.aborted) {
      await this.options.reconciler
        .reconcileOnce({ olderThanMs: this.options.minAgeMs })
        .catch((error: unknown) =>
          this.options.logger.warn('reconciliation round failed', {
            error: (error as Error).message,
          }),
        );
      if (stopOrLoss.aborted) break;
      await sleep(this.options.intervalMs, stopOrLoss);
    }
  }
}

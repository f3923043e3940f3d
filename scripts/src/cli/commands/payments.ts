import { type Kysely } from 'kysely';
import { redactUrl } from '@meetmatt/infra';
import { type PaymentDb } from '@meetmatt/payment-service/database';
import { loadPaymentConfig } from '@meetmatt/payment-service/config';
import { type Invocation } from '../command';
import { PaymentStatusSchema, type PaymentFigure, type PaymentView } from '@meetmatt/contracts';
import { CliError, UsageError } from '../errors';
import { counted, durationOption, formatDuration, formatTime, intOption } from '../format';
import { serviceEnv } from '../../lib/system-config';
import { type Runtime } from '../runtime';

interface Due {
  id: string;
  status: string;
  provider_payment_id: string;
  created_at: Date;
}

/**
 * The payment service's environment as `npm start` gives it (its database, the broker, the
 * NOWPayments sandbox when no real key is set), on no fixed port and without its periodic
 * reconciler: the CLI runs one round by hand.
 */
function paymentEnv(runtime: Runtime): Record<string, string> {
  const env = serviceEnv(runtime.system, 'payment', runtime.env);
  if (!runtime.env.NOWPAYMENTS_API_KEY && !runtime.env.NOWPAYMENTS_API_URL)
    env.NOWPAYMENTS_API_URL = `http://127.0.0.1:${runtime.system.NOWPAYMENTS_SANDBOX_PORT}`;
  return {
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    RECONCILER_INTERVAL_MS: '0',
    LOG_LEVEL: 'silent',
  };
}

export async function paymentsReconcile(
  runtime: Runtime,
  { values, json, yes, dryRun }: Invocation,
): Promise<void> {
  const handle = await runtime.service('payment');
  const env = paymentEnv(runtime);
  const config = loadPaymentConfig(env);
  const olderThanMs =
    values['older-than'] === undefined
      ? config.RECONCILER_MIN_AGE_MS
      : durationOption(values['older-than'] as string, '--older-than');
  const { PaymentQueries } = await import('@meetmatt/payment-service/projections/payment-queries');
  const queries = new PaymentQueries(handle.database.db);
  const due = (await queries.openBefore(
    new Date(Date.now() - olderThanMs),
    config.RECONCILER_BATCH_SIZE,
  )) as Due[];
  const out = runtime.out;
  const age = formatDuration(olderThanMs);
  if (dryRun || due.length === 0) {
    if (json) {
      out.printJson({
        dryRun,
        olderThanMs,
        due: due.map((p) => ({
          paymentId: p.id,
          status: p.status,
          providerPaymentId: p.provider_payment_id,
          createdAt: p.created_at.toISOString(),
        })),
      });
      return;
    }
    if (due.length === 0) {
      out.line(`nothing to reconcile: no open payment older than ${age}`);
      return;
    }
    out.line(
      `would ask NOWPayments about ${counted(due.length, 'open payment')} older than ${age}:`,
    );
    out.table(
      [
        { header: 'PAYMENT', value: (p: Due) => p.id },
        { header: 'STATUS', value: (p) => p.status },
        { header: 'NOWPAYMENTS ID', value: (p) => p.provider_payment_id },
        { header: 'CREATED (UTC)', value: (p) => formatTime(p.created_at) },
      ],
      due,
    );
    return;
  }
  const provider = redactUrl(config.NOWPAYMENTS_API_URL);
  await out.confirm(
    `Ask NOWPayments (${provider}) about ${counted(due.length, 'open payment')} older than ${age} and record what it says?`,
    yes,
  );
  // The service's own round, wired by its own composition root (the periodic reconciler off).
  const { start } = await import('@meetmatt/payment-service');
  const progress = out.progress('reconcile');
  progress.update(undefined, `asking about ${counted(due.length, 'payment')}`, true);
  let service: Awaited<ReturnType<typeof start>>;
  try {
    service = await start({ env, logger: runtime.logger });
  } catch (error) {
    progress.interrupt();
    throw new CliError(
      `could not start the payment service's reconciler: ${(error as Error).message}`,
    );
  }
  let result: Awaited<ReturnType<typeof service.reconcileOnce>>;
  try {
    result = await service.reconcileOnce({ olderThanMs });
  } finally {
    await service.stop();
  }
  progress.done(
    `${result.examined} asked, ${result.changed.length} changed, ${result.failed.length} failed`,
  );
  if (json) {
    out.printJson({ olderThanMs, ...result });
  } else {
    out.line(
      `asked NOWPayments about ${counted(result.examined, 'payment')}: ${result.changed.length} changed, ${result.failed.length} could not be asked`,
    );
    if (result.changed.length > 0) {
      out.line();
      out.table(
        [
          { header: 'PAYMENT', value: (c: (typeof result.changed)[number]) => c.paymentId },
          { header: 'FROM', value: (c) => c.from },
          { header: 'TO', value: (c) => c.to },
        ],
        result.changed,
      );
    }
    for (const f of result.failed) out.line(`not asked: ${f.paymentId}: ${f.error}`);
  }
  if (result.failed.length > 0)
    throw new CliError(`${counted(result.failed.length, 'payment')} could not be reconciled`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--status` beyond the payment statuses: a refund asked for and not yet made. */
const REFUND_REQUESTED = 'refund-requested';

/**
 * `meetmatt payments list`: the payments read model, newest first, filtered by status (e.g.
 * `underpaid`, `mismatched`: the money an operator has to look at; `refund-requested`: refunds
 * to make; `waiting`: payments nobody paid), user and how long they have not changed
 * (`--older-than 1h`: stuck), with the figures: what we asked for beside what NOWPayments
 * reported.
 */
export async function paymentsList(runtime: Runtime, { values, json }: Invocation): Promise<void> {
  const statusText = values.status as string | undefined;
  const refundRequested = statusText === REFUND_REQUESTED;
  const status =
    statusText === undefined || refundRequested
      ? undefined
      : PaymentStatusSchema.safeParse(statusText);
  if (status && !status.success) {
    throw new UsageError(
      `--status expects one of ${[...PaymentStatusSchema.options, REFUND_REQUESTED].join(', ')}, got ${JSON.stringify(statusText)}`,
    );
  }
  const userId = values.user as string | undefined;
  if (userId !== undefined && !UUID.test(userId))
    throw new UsageError(`--user expects a user id, got ${JSON.stringify(userId)}`);
  const olderThanMs =
    values['older-than'] === undefined
      ? undefined
      : durationOption(values['older-than'] as string, '--older-than');
  const limit = intOption(values.limit as string | undefined, '--limit', 50);
  const handle = await runtime.service('payment');
  const { toPaymentView } = await import('@meetmatt/payment-service/projections/payment-queries');
  const db = handle.database.db as unknown as Kysely<PaymentDb>;
  let query = db.selectFrom('payments').selectAll();
  if (status?.data) query = query.where('status', '=', status.data);
  if (refundRequested) query = query.where('refund_status', '=', 'requested');
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  if (olderThanMs !== undefined)
    query = query.where('updated_at', '<=', new Date(Date.now() - olderThanMs));
  let rows;
  try {
    rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new CliError(
        'the payments read model is not built yet: start the payment service, or run meetmatt projections rebuild payments --service payment',
      );
    }
    throw error;
  }
  const more = rows.length > limit;
  const payments = rows.slice(0, limit).map(toPaymentView);
  const out = runtime.out;
  if (json) {
    out.printJson({
      payments,
      more,
      ...(olderThanMs === undefined ? {} : { olderThanMs }),
    });
    return;
  }
  const what = statusText ? `${statusText} payment` : 'payment';
  const unchanged =
    olderThanMs === undefined ? '' : ` unchanged for ${formatDuration(olderThanMs)}`;
  if (payments.length === 0) {
    out.line(`no ${what}s${unchanged}`);
    return;
  }
  out.table(
    [
      { header: 'PAYMENT', value: (p: PaymentView) => p.id },
      {
        header: 'STATUS',
        value: (p) => p.status + (p.refund ? ` (refund ${p.refund.status})` : ''),
      },
      { header: 'USER', value: (p) => p.userId },
      { header: 'PRICE', value: (p) => `${p.priceAmount} ${p.priceCurrency.toUpperCase()}` },
      {
        header: 'PAID / ASKED',
        value: (p) => `${p.actuallyPaid ?? 0} / ${p.payAmount} ${p.payCurrency.toUpperCase()}`,
      },
      { header: 'WHY NOT CONFIRMED', value: (p) => discrepancyText(p) },
      { header: 'CREATED (UTC)', value: (p) => formatTime(new Date(p.createdAt)) },
      { header: 'CHANGED (UTC)', value: (p) => formatTime(new Date(p.updatedAt)) },
    ],
    payments,
  );
  if (more) out.line(`more than ${counted(limit, what)}: raise --limit or narrow with --user`);
}

/** `actuallyPaid 0.000008 (asked 0.0008); payCurrency usdttrc20 (asked btc)` */
function discrepancyText(payment: PaymentView): string {
  if (!payment.discrepancy) return '';
  return payment.discrepancy.figures
    .filter((f: PaymentFigure) => f.expected !== f.actual)
    .map((f: PaymentFigure) => `${f.field} ${f.actual ?? 'missing'} (asked ${f.expected})`)
    .join('; ');
}

import { redactUrl } from '@meetmatt/infra';
import { loadPaymentConfig } from '@meetmatt/payment-service/config';
import { type Invocation } from '../command';
import { CliError } from '../errors';
import { counted, durationOption, formatDuration, formatTime } from '../format';
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

// First: tracing patches http, express, pg and amqplib only if it loads before them.
import '@meetmatt/infra/tracing/register';
import { type Kysely } from 'kysely';
import {
  agentEvents,
  exchanges,
  paymentEventTypes,
  paymentOpenApi,
  queues,
  services,
} from '@meetmatt/contracts';
import {
  CheckpointStore,
  type Logger,
  type RunningService,
  ServiceHost,
  RevocationFeed,
  RevocationList,
  TokenVerifier,
  createHttpApp,
  runMain,
  startMail,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { Catalogue } from './application/catalogue';
import { Prices } from './application/prices';
import { CreatePayment } from './application/create-payment';
import { IdempotencyKeys } from './application/idempotency';
import { BuyerBillingDetails, consumedUserEvents } from './application/buyers';
import { CreditNoteIssuer } from './application/credit-notes';
import { InvoiceIssuer, InvoicePolicy } from './application/invoicing';
import { PaymentOpenings } from './application/openings';
import { PaymentCommands, paymentCatalog } from './application/payment-commands';
import { paymentStreamId } from './domain/payment-decide';
import { ProviderReports } from './application/provider-reports';
import { type ReconcileResult, Reconciler, ReconcilerSchedule } from './application/reconciler';
import { Refunds } from './application/refunds';
import { type PaymentConfig, loadPaymentConfig } from './config';
import { type PaymentDb } from './database';
import { addPriceRoutes } from './http/price-routes';
import { paymentRoutes } from './http/routes';
import { receiptRenderer } from './http/receipt-mail';
import {
  MailRecipients,
  RECEIPT,
  consumedRecipientEvents,
  receiptMails,
} from './application/receipts';
import { NowPaymentsClient } from './nowpayments';
import { PaymentQueries } from './projections/payment-queries';
import { paymentsProjection } from './projections/payments';

export interface StartPaymentOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningPaymentService extends RunningService {
  config: PaymentConfig;
  host: ServiceHost<PaymentDb>;
  /** One reconciliation round now (the operator CLI's `reconcile`): what changed. */
  reconcileOnce(options: { olderThanMs: number }): Promise<ReconcileResult>;
  /** Issues invoices (the policy uses it; tests drive it directly). */
  invoices: InvoiceIssuer;
  /** Issues credit notes for completed refunds (the policy uses it; tests drive it directly). */
  creditNotes: CreditNoteIssuer;
  /** Where NOWPayments is told to send IPNs. */
  ipnCallbackUrl: string;
}

/** Internal facts (IPN evidence, the invoice and credit-note counters) stay off the bus. */
const PUBLISHED_EVENT_TYPES = Object.values(paymentEventTypes).filter(
  (type) =>
    type !== paymentEventTypes.ipnReceived &&
    type !== paymentEventTypes.invoiceNumberAllocated &&
    type !== paymentEventTypes.creditNoteNumberAllocated,
);

/** The composition root: the only place where the payment service's pieces are wired together. */
export async function start(options: StartPaymentOptions = {}): Promise<RunningPaymentService> {
  const config = loadPaymentConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create<PaymentDb>({
    name: services.payment.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const { logger, eventStore: store } = host;
    const db = host.database.db;
    // The event types the service writes (validated on append, upcast on read): not the plans.
    const eventCatalog = paymentCatalog();
    const commands = new PaymentCommands(store, eventCatalog);
    // The plans on sale and their prices.
    const plans = new Catalogue(config.plans);
    const provider = new NowPaymentsClient({
      apiUrl: config.NOWPAYMENTS_API_URL,
      apiKey: config.NOWPAYMENTS_API_KEY,
      timeoutMs: config.NOWPAYMENTS_TIMEOUT_MS,
      logger,
      metrics: host.metrics,
    });
    const queries = new PaymentQueries(db);
    const openings = new PaymentOpenings(db, config.NOWPAYMENTS_TIMEOUT_MS + 60_000);
    const reports = new ProviderReports({
      commands,
      openings,
      logger,
      underpaymentTolerance: config.PAYMENT_UNDERPAYMENT_TOLERANCE,
      paymentOfProviderPayment: (id) => queries.idOfProviderPayment(id),
    });
    const refunds = new Refunds(commands, logger);
    const waitForProjections = host.waitForProjections.bind(host);
    // Until the port is bound, the default callback (this service's own URL) is unknown.
    let ipnCallbackUrl = config.NOWPAYMENTS_IPN_CALLBACK_URL;
    const createPayment = new CreatePayment({
      commands,
      provider,
      catalogue: plans,
      payCurrencies: config.PAYMENT_CURRENCIES,
      idempotency: new IdempotencyKeys(db, { leaseMs: config.NOWPAYMENTS_TIMEOUT_MS + 5_000 }),
      openings,
      ipnCallbackUrl: () => ipnCallbackUrl!,
      waitForProjections,
      logger,
    });

    await openings.sweep();
    await host.startProjections([paymentsProjection], eventCatalog);
    // Logged-out sessions and revoked API keys are refused here too, not only at the gateway.
    const revocations = new RevocationList(config.ACCESS_TOKEN_MAX_TTL_SECONDS);
    await RevocationFeed.start(host, { queue: queues.paymentRevocations, list: revocations });
    const seller = {
      name: config.INVOICE_SELLER_NAME,
      address: config.INVOICE_SELLER_ADDRESS,
      ...(config.INVOICE_SELLER_TAX_ID ? { taxId: config.INVOICE_SELLER_TAX_ID } : {}),
    };
    const servePayments = paymentRoutes({
      catalogue: plans,
      createPayment,
      queries,
      refunds,
      reports,
      ipnSecret: config.NOWPAYMENTS_IPN_SECRET,
      seller,
      waitForProjections,
      paymentRecorded: (id) => store.streamExists(paymentStreamId(id)),
      logger,
      metrics: host.metrics,
    });
    const prices = new Prices({
      provider,
      catalogue: plans,
      payCurrencies: config.PAYMENT_CURRENCIES,
      currenciesTtlMs: config.PRICE_CURRENCIES_TTL_MS,
      estimateTtlMs: config.PRICE_ESTIMATE_TTL_MS,
    });
    const app = createHttpApp({
      service: services.payment.name,
      logger,
      metrics: host.metrics,
      readiness: host.readiness,
      ...host.http,
      openapi: paymentOpenApi(),
      authenticator: new TokenVerifier({
        issuer: config.AUTH_ISSUER,
        audience: config.AUTH_AUDIENCE,
        jwksUrl: config.AUTH_JWKS_URL,
        revocations,
      }),
      routes: (routes) => {
        // Before /payments/:id, which would otherwise take "currencies" for an id.
        addPriceRoutes(routes, prices);
        servePayments(routes);
      },
    });
    const server = await host.listen(app);
    ipnCallbackUrl ??= `${server.url}/webhooks/nowpayments`;
    if (config.NODE_ENV === 'production' && !config.NOWPAYMENTS_IPN_CALLBACK_URL) {
      logger.warn('NOWPAYMENTS_IPN_CALLBACK_URL is not set: IPNs go to the local address', {
        ipnCallbackUrl,
      });
    }

    host.startRelay({
      exchange: services.payment.exchange,
      filter: { eventTypes: PUBLISHED_EVENT_TYPES },
    });

    const buyers = new BuyerBillingDetails(db);
    const invoices = new InvoiceIssuer(store, commands, (userId) => buyers.of(userId));
    const creditNotes = new CreditNoteIssuer(store, commands);
    const invoicePolicy = new InvoicePolicy({
      store,
      issuer: invoices,
      creditNotes,
      checkpoints: new CheckpointStore(host.database.pool),
      connectionString: config.DATABASE_URL,
      logger,
    });
    invoicePolicy.start();
    host.onStop(() => invoicePolicy.stop());

    const reconciler = new Reconciler({
      provider,
      reports,
      queries,
      logger,
      batchSize: config.RECONCILER_BATCH_SIZE,
    });
    if (config.RECONCILER_INTERVAL_MS > 0) {
      const schedule = new ReconcilerSchedule({
        reconciler,
        connectionString: config.DATABASE_URL,
        intervalMs: config.RECONCILER_INTERVAL_MS,
        minAgeMs: config.RECONCILER_MIN_AGE_MS,
        logger,
      });
      schedule.start();
      host.onStop(() => schedule.stop());
    }

    host.consume({
      queue: queues.paymentAgentEvents,
      exchange: exchanges.brain,
      events: [agentEvents.deployFailed] as const,
      handle: (event) => refunds.onDeployFailed(event),
    });
    const recipients = new MailRecipients(db as unknown as Kysely<unknown>);
    host.consume({
      queue: queues.paymentMailRecipients,
      exchange: exchanges.user,
      events: consumedRecipientEvents,
      handle: recipients.handle,
    });
    startMail(host, config, {
      renderers: {
        [RECEIPT]: receiptRenderer({
          recipients,
          queries,
          catalogue: plans,
          seller,
          appUrl: config.MAIL_APP_URL,
        }),
      },
      policy: {
        name: 'payment-mail-policy',
        eventTypes: [paymentEventTypes.invoiceIssued],
        mailsFor: receiptMails,
      },
    });
    host.consume({
      queue: queues.paymentUserEvents,
      exchange: exchanges.user,
      events: consumedUserEvents,
      handle: buyers.handle,
    });

    return {
      config,
      host,
      url: server.url,
      port: server.port,
      logger,
      ipnCallbackUrl,
      invoices,
      creditNotes,
      reconcileOnce: (round) => reconciler.reconcileOnce(round),
      stop: () => host.stop(),
    };
  } catch (error) {
    await host.stop();
    throw error;
  }
}

if (require.main === module) runMain(services.payment.name, () => start());

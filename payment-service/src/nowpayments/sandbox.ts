import { type PaymentStatus } from '@meetmatt/contracts';
import { type Logger, type RunningServer, startHttpServer } from '@meetmatt/infra';
import express from 'express';
import { sandboxApi } from './sandbox-api';
import { SandboxClock } from './sandbox-clock';
import { controlView, sandboxControl } from './sandbox-control';
import { type IpnDelivery, IpnSender } from './sandbox-ipn';
import { type SandboxPayment, repeatDeposit } from './sandbox-model';
import { ScenarioPlayer } from './sandbox-player';
import { type SandboxCall, SandboxState } from './sandbox-state';

export interface NowPaymentsSandboxOptions {
  /** The one `x-api-key` the sandbox accepts. */
  apiKey: string;
  /** Signs the IPNs, as the IPN secret of a NOWPayments account does. */
  ipnSecret: string;
  /** One scenario step: a few ms in tests, 1–2 s in a demo. */
  stepMs: number;
  /** Attempts per IPN, the first included (default 4). */
  ipnMaxAttempts?: number;
  /** A slower answer counts as failed and is resent (default 3000, like NOWPayments). */
  ipnTimeoutMs?: number;
  /** Delay before resending after failed attempt n (default stepMs · 2^(n-1)). */
  ipnRetryDelayMs?: (failedAttempt: number) => number;
  now?: () => Date;
  logger?: Logger;
}

export type SandboxPaymentView = ReturnType<typeof controlView>;

export interface NowPaymentsSandbox {
  start(port?: number, host?: string): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
  /** The base URL once started (give it to the client as `apiUrl`). */
  readonly url: string | undefined;
  /** The `/v1` calls received, oldest first. */
  calls(): SandboxCall[];
  /** Payments as `GET /v1/payment/:id` shows them, with their scenario. */
  payments(): SandboxPaymentView[];
  payment(paymentId: string | number): SandboxPaymentView | undefined;
  /** IPN deliveries with every attempt, oldest first. */
  deliveries(filter?: { paymentId?: string | number; orderId?: string }): IpnDelivery[];
  /** Moves a payment to `status` now and sends its IPN (ends its scenario). */
  setStatus(paymentId: string | number, status: PaymentStatus, actuallyPaid?: number): void;
  /** Sends an earlier IPN again, `times` times. */
  resend(deliveryId: string, times?: number): IpnDelivery[];
  /**
   * A repeat deposit of `actuallyPaid` to the payment's address: a payment of its own with
   * `parent_payment_id`, which plays confirming → … → finished and sends its IPNs.
   */
  deposit(paymentId: string | number, actuallyPaid: number): SandboxPaymentView;
}

/** The NOWPayments sandbox: our imitation of the provider, run in-process by tests. */
export function createNowPaymentsSandbox(options: NowPaymentsSandboxOptions): NowPaymentsSandbox {
  const clock = new SandboxClock(options.stepMs, options.now);
  const state = new SandboxState();
  const ipns = new IpnSender({
    ipnSecret: options.ipnSecret,
    clock,
    maxAttempts: options.ipnMaxAttempts ?? 4,
    timeoutMs: options.ipnTimeoutMs ?? 3_000,
    retryDelayMs: options.ipnRetryDelayMs ?? ((n) => options.stepMs * 2 ** (n - 1)),
    logger: options.logger,
  });
  const openRepeatDeposit = (parent: SandboxPayment, amount: number) => {
    const deposit = repeatDeposit(parent, amount, { id: state.nextId(), now: clock.now() });
    state.payments.set(deposit.id, deposit);
    return deposit;
  };
  const player = new ScenarioPlayer(clock, ipns, openRepeatDeposit);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // What `npm start` waits on for every process it runs, the sandboxes included.
  const ok: express.RequestHandler = (_req, res) => {
    res.json({ status: 'ok' });
  };
  app.get('/healthz', ok);
  app.get('/readyz', ok);
  app.use(
    '/v1',
    sandboxApi({ apiKey: options.apiKey, state, clock, player, logger: options.logger }),
  );
  app.use('/sandbox', sandboxControl({ state, clock, player, ipns, openRepeatDeposit }));
  let server: RunningServer | undefined;

  const mustFind = (paymentId: string | number) => {
    const payment = state.findPayment(paymentId);
    if (!payment) throw new RangeError(`no sandbox payment ${paymentId}`);
    return payment;
  };
  // Copies, so a test that looks cannot change what the sandbox plays.
  const snapshot = <T>(value: T): T => structuredClone(value);

  return {
    async start(port = 0, host = '127.0.0.1') {
      if (server) throw new Error('the sandbox is already started');
      server = await startHttpServer(app, { port, host });
      options.logger?.debug('nowpayments sandbox started', {
        url: server.url,
        stepMs: options.stepMs,
      });
      return { url: server.url, port: server.port };
    },
    async stop() {
      clock.stop();
      ipns.stop();
      await server?.close(1_000);
    },
    get url() {
      return server?.url;
    },
    calls: () => snapshot(state.calls),
    payments: () => [...state.payments.values()].map((p) => snapshot(controlView(p))),
    payment(paymentId) {
      const payment = state.findPayment(paymentId);
      return payment && snapshot(controlView(payment));
    },
    deliveries(filter = {}) {
      const paymentId = filter.paymentId === undefined ? undefined : Number(filter.paymentId);
      return snapshot(ipns.list({ ...filter, paymentId }));
    },
    setStatus(paymentId, status, actuallyPaid) {
      player.override(mustFind(paymentId), status, actuallyPaid);
    },
    deposit(paymentId, actuallyPaid) {
      const deposit = openRepeatDeposit(mustFind(paymentId), actuallyPaid);
      player.play(deposit);
      return snapshot(controlView(deposit));
    },
    resend(deliveryId, times = 1) {
      const copies = ipns.resend(deliveryId, times);
      if (!copies) throw new RangeError(`no IPN delivery ${deliveryId}`);
      return snapshot(copies);
    },
  };
}

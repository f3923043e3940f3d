import express, { type RequestHandler, type Response } from 'express';
import { type z } from 'zod';
import { type SandboxClock } from './sandbox-clock';
import { type IpnSender } from './sandbox-ipn';
import { type SandboxPayment, invoiceView, openPayment, paymentDetailsView } from './sandbox-model';
import { type OpenRepeatDeposit, type ScenarioPlayer } from './sandbox-player';
import {
  depositRequestSchema,
  payInvoiceRequestSchema,
  resendRequestSchema,
  setStatusRequestSchema,
} from './sandbox-requests';
import { SANDBOX_CASES, SANDBOX_MARKERS, chooseScenario } from './sandbox-scenarios';
import { type SandboxState } from './sandbox-state';

export interface SandboxControlContext {
  state: SandboxState;
  clock: SandboxClock;
  player: ScenarioPlayer;
  ipns: IpnSender;
  openRepeatDeposit: OpenRepeatDeposit;
}

/**
 * The sandbox's own API for tests and demos, beside (never under) `/v1`, without a key:
 *
 *   GET  /sandbox/scenarios                 the markers and `case` values
 *   GET  /sandbox/calls?path=               the `/v1` calls received, oldest first
 *   GET  /sandbox/payments?orderId=         payments as `GET /v1/payment/:id` shows them, plus scenario
 *   GET  /sandbox/payments/:id              one of them
 *   POST /sandbox/payments/:id/status       {status, actuallyPaid?}: move it now (ends its scenario)
 *   POST /sandbox/payments/:id/deposits     {actuallyPaid}: a repeat deposit to its address, a
 *                                           payment of its own with parent_payment_id
 *   GET  /sandbox/ipns?paymentId=&orderId=  IPN deliveries with every attempt and answer
 *   POST /sandbox/ipns/:id/resend           {times?}: send the same IPN again, like an operator
 *   GET  /sandbox/invoices/:id              an invoice (its `invoice_url`) and its payments
 *   POST /sandbox/invoices/:id/pay          {payCurrency?, case?, markers?}: the customer pays it
 */
export function sandboxControl(context: SandboxControlContext): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));
  router.get('/scenarios', (_req, res) => {
    res.json({ markers: SANDBOX_MARKERS, cases: SANDBOX_CASES });
  });
  router.get('/calls', (req, res) => {
    const path = typeof req.query.path === 'string' ? req.query.path : undefined;
    res.json({ calls: context.state.calls.filter((c) => path === undefined || c.path === path) });
  });
  router.get('/payments', listPayments(context));
  router.get('/payments/:id', showPayment(context));
  router.post('/payments/:id/status', setStatus(context));
  router.post('/payments/:id/deposits', deposit(context));
  router.get('/ipns', listIpns(context));
  router.post('/ipns/:id/resend', resend(context));
  router.get('/invoices/:id', showInvoice(context));
  router.post('/invoices/:id/pay', payInvoice(context));
  router.use((_req, res) => {
    res.status(404).json({ error: 'no such sandbox control endpoint' });
  });
  return router;
}

export function controlView(payment: SandboxPayment) {
  return { ...paymentDetailsView(payment), scenario: payment.scenario };
}

function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  res: Response,
): z.output<S> | undefined {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  res.status(400).json({ error: 'invalid request', issues: result.error.issues });
  return undefined;
}

function notFound(res: Response, what: string): void {
  res.status(404).json({ error: `${what} not found` });
}

function listPayments({ state }: SandboxControlContext): RequestHandler {
  return (req, res) => {
    const orderId = typeof req.query.orderId === 'string' ? req.query.orderId : undefined;
    const payments = [...state.payments.values()].filter(
      (p) => orderId === undefined || p.orderId === orderId,
    );
    res.json({ payments: payments.map(controlView) });
  };
}

function showPayment({ state }: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const payment = state.findPayment(req.params.id);
    if (!payment) return notFound(res, 'payment');
    res.json(controlView(payment));
  };
}

function setStatus({ state, player }: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const payment = state.findPayment(req.params.id);
    if (!payment) return notFound(res, 'payment');
    const request = parse(setStatusRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    player.override(payment, request.status, request.actuallyPaid);
    res.json(controlView(payment));
  };
}

function deposit({
  state,
  player,
  openRepeatDeposit,
}: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const payment = state.findPayment(req.params.id);
    if (!payment) return notFound(res, 'payment');
    const request = parse(depositRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    const repeat = openRepeatDeposit(payment, request.actuallyPaid);
    player.play(repeat);
    res.status(201).json(controlView(repeat));
  };
}

function listIpns({ ipns }: SandboxControlContext): RequestHandler {
  return (req, res) => {
    const { paymentId, orderId } = req.query;
    res.json({
      deliveries: ipns.list({
        ...(typeof paymentId === 'string' ? { paymentId: Number(paymentId) } : {}),
        ...(typeof orderId === 'string' ? { orderId } : {}),
      }),
    });
  };
}

function resend({ ipns }: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const request = parse(resendRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    const copies = ipns.resend(req.params.id, request.times);
    if (!copies) return notFound(res, 'IPN delivery');
    res.status(202).json({ deliveries: copies });
  };
}

function showInvoice({ state }: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const invoice = state.findInvoice(req.params.id);
    if (!invoice) return notFound(res, 'invoice');
    const payments = [...state.payments.values()].filter((p) => p.invoiceId === invoice.id);
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    res.json({ invoice: invoiceView(invoice, base), payments: payments.map(controlView) });
  };
}

/** The customer pays a hosted invoice: only now does a payment (with `invoice_id`) exist. */
function payInvoice({
  state,
  clock,
  player,
}: SandboxControlContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    const invoice = state.findInvoice(req.params.id);
    if (!invoice) return notFound(res, 'invoice');
    const request = parse(payInvoiceRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    const payCurrency = request.payCurrency ?? invoice.payCurrency;
    if (payCurrency === null)
      return void res.status(400).json({ error: 'payCurrency is required' });
    const orderDescription = [invoice.orderDescription, request.markers].filter(Boolean).join(' ');
    const choice = chooseScenario({ case: request.case, orderDescription });
    if (!choice.ok) return void res.status(400).json({ error: choice.message });
    const payment = openPayment(
      {
        priceAmount: invoice.priceAmount,
        priceCurrency: invoice.priceCurrency,
        payCurrency,
        orderId: invoice.orderId ?? undefined,
        orderDescription: invoice.orderDescription ?? undefined,
        ipnCallbackUrl: invoice.ipnCallbackUrl ?? undefined,
        isFixedRate: invoice.isFixedRate,
        isFeePaidByUser: invoice.isFeePaidByUser,
        invoiceId: invoice.id,
      },
      {
        id: state.nextId(),
        purchaseId: state.nextId(),
        scenario: choice.scenario,
        now: clock.now(),
      },
    );
    state.payments.set(payment.id, payment);
    player.play(payment);
    res.status(201).json(controlView(payment));
  };
}

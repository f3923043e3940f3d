import { createHash, timingSafeEqual } from 'node:crypto';
import { type Logger } from '@meetmatt/infra';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { type z } from 'zod';
import { MIN_PAYMENT_USD, convert, cryptoCurrencies, toUsd } from './sandbox-currencies';
import {
  type SandboxPayment,
  createdPaymentView,
  invoiceView,
  openPayment,
  paymentDetailsView,
} from './sandbox-model';
import { type ScenarioPlayer } from './sandbox-player';
import {
  type CreatePaymentRequest,
  createInvoiceRequestSchema,
  createPaymentRequestSchema,
  estimateQuerySchema,
  pairQuerySchema,
  paymentIdSchema,
  validationMessage,
} from './sandbox-requests';
import { chooseScenario } from './sandbox-scenarios';
import { type SandboxCall, type SandboxState } from './sandbox-state';
import { type SandboxClock } from './sandbox-clock';

export interface SandboxApiContext {
  apiKey: string;
  state: SandboxState;
  clock: SandboxClock;
  player: ScenarioPlayer;
  logger?: Logger | undefined;
}

/** The documented error body: `{"status":false,"statusCode":400,"code":"…","message":"…"}`. */
export function sendError(res: Response, statusCode: number, code: string, message: string): void {
  res.status(statusCode).json({ status: false, statusCode, code, message });
}

/**
 * NOWPayments' `/v1` API as EXTERNAL-APIS.md describes it. A foreign API, so its own error
 * shape, not our problem+json. Unknown ids are 404 NOT_FOUND and a bad key 403
 * INVALID_API_KEY (inferred from the real API's answers).
 */
export function sandboxApi(context: SandboxApiContext): express.Router {
  const router = express.Router();
  // Recorded first, so a call refused by the JSON parser is in the list too.
  router.use(recordCalls(context));
  router.use(express.json({ limit: '100kb' }));
  router.get('/status', (_req, res) => {
    res.json({ message: 'OK' });
  });
  router.use(requireApiKey(context.apiKey));
  router.post('/payment', createPayment(context));
  router.get('/payment/:id', getPayment(context));
  router.post('/invoice', createInvoice(context));
  router.get('/estimate', estimate);
  router.get('/min-amount', minAmount);
  router.get('/currencies', (_req, res) => {
    res.json({ currencies: cryptoCurrencies() });
  });
  router.use((req, res) => {
    sendError(res, 404, 'NOT_FOUND', `Cannot ${req.method} ${req.originalUrl}`);
  });
  router.use(apiErrors);
  return router;
}

function recordCalls({ apiKey, state, clock, logger }: SandboxApiContext): RequestHandler {
  return (req, res, next) => {
    const at = clock.now().toISOString();
    const given = req.get('x-api-key');
    res.on('finish', () => {
      const call: SandboxCall = {
        at,
        method: req.method,
        path: req.baseUrl + req.path,
        query: { ...(req.query as Record<string, unknown>) },
        body: req.body ?? null,
        apiKey: given === undefined ? 'missing' : sameSecret(given, apiKey) ? 'valid' : 'invalid',
        status: res.statusCode,
      };
      state.calls.push(call);
      logger?.info('nowpayments sandbox call', {
        method: call.method,
        path: call.path,
        status: call.status,
        auth: call.apiKey,
      });
    });
    next();
  };
}

function requireApiKey(apiKey: string): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-api-key');
    if (given !== undefined && sameSecret(given, apiKey)) return next();
    sendError(res, 403, 'INVALID_API_KEY', 'Invalid api key');
  };
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  res: Response,
): z.output<S> | undefined {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  sendError(res, 400, 'INVALID_REQUEST_PARAMS', validationMessage(result.error));
  return undefined;
}

function createPayment({ state, clock, player }: SandboxApiContext): RequestHandler {
  return (req, res) => {
    const request = parse(createPaymentRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    const choice = chooseScenario({
      case: request.case,
      orderDescription: request.order_description,
    });
    if (!choice.ok) return sendError(res, 400, 'INVALID_REQUEST_PARAMS', choice.message);
    if (toUsd(request.price_amount, request.price_currency) < MIN_PAYMENT_USD) {
      return sendError(res, 400, 'AMOUNT_MINIMAL_ERROR', 'amountTo is too small');
    }
    const payment = openPayment(toOpenInput(request), {
      id: state.nextId(),
      purchaseId: state.nextId(),
      scenario: choice.scenario,
      now: clock.now(),
    });
    state.payments.set(payment.id, payment);
    player.play(payment);
    res.status(201).json(createdPaymentView(payment));
  };
}

function toOpenInput(request: CreatePaymentRequest) {
  return {
    priceAmount: request.price_amount,
    priceCurrency: request.price_currency,
    payCurrency: request.pay_currency,
    payAmount: request.pay_amount,
    orderId: request.order_id,
    orderDescription: request.order_description,
    ipnCallbackUrl: request.ipn_callback_url,
    purchaseId: request.purchase_id,
    isFixedRate: request.is_fixed_rate,
    isFeePaidByUser: request.is_fee_paid_by_user,
  };
}

function getPayment({ state }: SandboxApiContext): RequestHandler<{ id: string }> {
  return (req, res) => {
    if (parse(paymentIdSchema, req.params.id, res) === undefined) return;
    const payment: SandboxPayment | undefined = state.findPayment(req.params.id);
    if (!payment) return sendError(res, 404, 'NOT_FOUND', 'Payment not found');
    res.json(paymentDetailsView(payment));
  };
}

function createInvoice({ state, clock }: SandboxApiContext): RequestHandler {
  return (req, res) => {
    const request = parse(createInvoiceRequestSchema, req.body ?? {}, res);
    if (request === undefined) return;
    const choice = chooseScenario({ orderDescription: request.order_description });
    if (!choice.ok) return sendError(res, 400, 'INVALID_REQUEST_PARAMS', choice.message);
    const invoice = {
      id: state.nextId(),
      priceAmount: request.price_amount,
      priceCurrency: request.price_currency,
      payCurrency: request.pay_currency ?? null,
      orderId: request.order_id ?? null,
      orderDescription: request.order_description ?? null,
      ipnCallbackUrl: request.ipn_callback_url ?? null,
      successUrl: request.success_url ?? null,
      cancelUrl: request.cancel_url ?? null,
      isFixedRate: request.is_fixed_rate ?? false,
      isFeePaidByUser: request.is_fee_paid_by_user ?? false,
      createdAt: clock.now(),
    };
    state.invoices.set(invoice.id, invoice);
    res
      .status(201)
      .json(invoiceView(invoice, `${req.protocol}://${req.get('host') ?? 'localhost'}`));
  };
}

const estimate: RequestHandler = (req, res) => {
  const query = parse(estimateQuerySchema, req.query, res);
  if (query === undefined) return;
  res.json({
    currency_from: query.currency_from,
    amount_from: query.amount,
    currency_to: query.currency_to,
    estimated_amount: convert(query.amount, query.currency_from, query.currency_to),
  });
};

const minAmount: RequestHandler = (req, res) => {
  const query = parse(pairQuerySchema, req.query, res);
  if (query === undefined) return;
  res.json({
    currency_from: query.currency_from,
    currency_to: query.currency_to,
    min_amount: convert(MIN_PAYMENT_USD, 'usd', query.currency_from),
  });
};

const apiErrors: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
  const status = (error as { status?: unknown }).status;
  if (status === 400) return sendError(res, 400, 'INVALID_REQUEST_PARAMS', 'Invalid JSON body');
  if (status === 413) return sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'Request body too large');
  sendError(res, 500, 'INTERNAL_ERROR', error instanceof Error ? error.message : 'Internal error');
};

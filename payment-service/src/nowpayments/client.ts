import {
  type Logger,
  type Metrics,
  type ProviderCallMetrics,
  type ProviderOutcome,
  operationOf,
  outcomeOfStatus,
  providerCallMetrics,
} from '@meetmatt/infra';
import { type z } from 'zod';
import { NowPaymentsError, type NowPaymentsErrorKind } from './errors';
import {
  type NowEstimate,
  type NowInvoice,
  type NowMinAmount,
  type NowPayment,
  type NowPaymentDetails,
  createdPaymentSchema,
  currenciesSchema,
  errorBodySchema,
  estimateSchema,
  invoiceSchema,
  minAmountSchema,
  paymentDetailsSchema,
  statusSchema,
} from './schemas';

export interface NowPaymentsClientConfig {
  /** `https://api.nowpayments.io` or our sandbox; a trailing `/v1` (as the docs write it) is fine. */
  apiUrl: string;
  apiKey: string;
  /** Per call, including reading the body. */
  timeoutMs?: number;
  logger?: Logger;
  /** Counts and times every call in `provider_request_duration_seconds{provider="nowpayments"}`. */
  metrics?: Metrics;
}

/** The outcomes NOWPayments' own sandbox plays for a payment. */
export type NowPaymentsSandboxCase = 'success' | 'failed' | 'partially_paid';

export interface CreatePaymentInput {
  /** Our payment id, sent as `order_id` and echoed back in every IPN. */
  orderId: string;
  priceAmount: number;
  /** Fiat, lower case (`usd`). */
  priceCurrency: string;
  /** Crypto ticker, lower case (`btc`, `usdttrc20`). */
  payCurrency: string;
  /** Our webhook, sent as `ipn_callback_url`. */
  ipnCallbackUrl: string;
  orderDescription?: string;
  purchaseId?: string;
  isFixedRate?: boolean;
  isFeePaidByUser?: boolean;
  /** Only NOWPayments' sandbox (and ours) read it: which outcome to play. */
  case?: NowPaymentsSandboxCase;
}

export interface CreateInvoiceInput {
  orderId: string;
  priceAmount: number;
  priceCurrency: string;
  ipnCallbackUrl: string;
  payCurrency?: string;
  orderDescription?: string;
  successUrl?: string;
  cancelUrl?: string;
  isFixedRate?: boolean;
  isFeePaidByUser?: boolean;
}

export interface PairInput {
  currencyFrom: string;
  currencyTo: string;
}

interface CallSpec {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** `GET /v1/status` is the one call without the key. */
  authenticated: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * NOWPayments API v1 (EXTERNAL-APIS.md). Every answer is parsed with zod into our shapes; every
 * failure is one `NowPaymentsError`. Calls are logged at this boundary without secrets.
 */
export class NowPaymentsClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly calls: ProviderCallMetrics | undefined;

  constructor(config: NowPaymentsClientConfig) {
    this.calls = config.metrics ? providerCallMetrics(config.metrics, 'nowpayments') : undefined;
    this.baseUrl = config.apiUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiKey = config.apiKey;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = config.logger;
  }

  /** `GET /v1/status`: `{message: "OK"}` when the API is up. */
  status(): Promise<{ message: string }> {
    return this.call({ method: 'GET', path: '/v1/status', authenticated: false }, statusSchema);
  }

  /** `POST /v1/payment`: opens a payment; the answer carries the address and amount to pay. */
  createPayment(input: CreatePaymentInput): Promise<NowPayment> {
    const body = withoutUndefined({
      price_amount: input.priceAmount,
      price_currency: input.priceCurrency,
      pay_currency: input.payCurrency,
      ipn_callback_url: input.ipnCallbackUrl,
      order_id: input.orderId,
      order_description: input.orderDescription,
      purchase_id: input.purchaseId,
      is_fixed_rate: input.isFixedRate,
      is_fee_paid_by_user: input.isFeePaidByUser,
      case: input.case,
    });
    const spec: CallSpec = { method: 'POST', path: '/v1/payment', body, authenticated: true };
    return this.call(spec, createdPaymentSchema);
  }

  /** `GET /v1/payment/:id`: where the payment stands now (the reconciler's question). */
  getPayment(providerPaymentId: string): Promise<NowPaymentDetails> {
    const path = `/v1/payment/${encodeURIComponent(providerPaymentId)}`;
    return this.call({ method: 'GET', path, authenticated: true }, paymentDetailsSchema);
  }

  /** `POST /v1/invoice`: a hosted payment page; the payment exists once the customer pays. */
  createInvoice(input: CreateInvoiceInput): Promise<NowInvoice> {
    const body = withoutUndefined({
      price_amount: input.priceAmount,
      price_currency: input.priceCurrency,
      pay_currency: input.payCurrency,
      ipn_callback_url: input.ipnCallbackUrl,
      order_id: input.orderId,
      order_description: input.orderDescription,
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
      is_fixed_rate: input.isFixedRate,
      is_fee_paid_by_user: input.isFeePaidByUser,
    });
    const spec: CallSpec = { method: 'POST', path: '/v1/invoice', body, authenticated: true };
    return this.call(spec, invoiceSchema);
  }

  /** `GET /v1/estimate`: what `amount` of `currencyFrom` is worth in `currencyTo`. */
  estimate(input: PairInput & { amount: number }): Promise<NowEstimate> {
    const query = {
      amount: String(input.amount),
      currency_from: input.currencyFrom,
      currency_to: input.currencyTo,
    };
    return this.call(
      { method: 'GET', path: '/v1/estimate', query, authenticated: true },
      estimateSchema,
    );
  }

  /** `GET /v1/min-amount`: the smallest payment NOWPayments accepts for the pair. */
  minAmount(input: PairInput): Promise<NowMinAmount> {
    const query = { currency_from: input.currencyFrom, currency_to: input.currencyTo };
    const spec: CallSpec = { method: 'GET', path: '/v1/min-amount', query, authenticated: true };
    return this.call(spec, minAmountSchema);
  }

  /** `GET /v1/currencies`: the tickers that can be paid with, lower case. */
  currencies(): Promise<string[]> {
    return this.call(
      { method: 'GET', path: '/v1/currencies', authenticated: true },
      currenciesSchema,
    );
  }

  private async call<S extends z.ZodType>(spec: CallSpec, schema: S): Promise<z.output<S>> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const { status, body } = await this.send(spec);
      const result = this.interpret(spec, status, body, schema);
      this.logger?.info('nowpayments call', {
        provider: 'nowpayments',
        method: spec.method,
        path: spec.path,
        status,
        durationMs: elapsed(),
      });
      this.observe(spec, 'ok', started);
      return result;
    } catch (error) {
      const failure = error instanceof NowPaymentsError ? error : this.transportError(spec, error);
      this.logger?.warn('nowpayments call failed', {
        provider: 'nowpayments',
        method: spec.method,
        path: spec.path,
        status: failure.httpStatus,
        kind: failure.kind,
        code: failure.code,
        durationMs: elapsed(),
      });
      this.observe(spec, outcomeOf(failure), started);
      throw failure;
    }
  }

  private observe(spec: CallSpec, outcome: ProviderOutcome, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.calls?.observe(operationOf(spec.method, spec.path), outcome, seconds);
  }

  private async send(spec: CallSpec): Promise<{ status: number; body: string }> {
    // Appended, not resolved: a base URL with a path prefix (a proxy) keeps its prefix.
    const url = new URL(`${this.baseUrl}${spec.path}`);
    for (const [key, value] of Object.entries(spec.query ?? {})) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (spec.authenticated) headers['x-api-key'] = this.apiKey;
    if (spec.body) headers['content-type'] = 'application/json';
    // One signal for the whole exchange: a server that sends headers and then stalls times out too.
    const response = await fetch(url, {
      method: spec.method,
      headers,
      body: spec.body ? JSON.stringify(spec.body) : null,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  }

  private interpret<S extends z.ZodType>(
    spec: CallSpec,
    status: number,
    text: string,
    schema: S,
  ): z.output<S> {
    const json = parseJson(text);
    if (status < 200 || status > 299) throw this.httpError(spec, status, json);
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    const where = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw this.failure(spec, 'bad-response', json === undefined ? 'not JSON' : where, status);
  }

  private httpError(spec: CallSpec, status: number, json: unknown): NowPaymentsError {
    const body = errorBodySchema.safeParse(json);
    const code = body.success ? body.data.code : undefined;
    const message = body.success && body.data.message ? body.data.message : `HTTP ${status}`;
    return this.failure(spec, 'http', message, status, code);
  }

  private transportError(spec: CallSpec, error: unknown): NowPaymentsError {
    // Duck-typed: fetch's errors (a DOMException for the timeout) may come from another realm.
    const name = field(error, 'name');
    if (name === 'TimeoutError' || name === 'AbortError') {
      return this.failure(spec, 'timeout', `no answer within ${this.timeoutMs} ms`);
    }
    const cause: unknown = (error as { cause?: unknown } | null)?.cause ?? error;
    const detail = field(cause, 'message') ?? String(cause);
    return this.failure(spec, 'network', detail, undefined, undefined, cause);
  }

  private failure(
    spec: CallSpec,
    kind: NowPaymentsErrorKind,
    detail: string,
    httpStatus?: number,
    code?: string,
    cause?: unknown,
  ): NowPaymentsError {
    return new NowPaymentsError({
      kind,
      method: spec.method,
      path: spec.path,
      httpStatus,
      code,
      // A provider (or a proxy) echoing the request must not put our key into a log line.
      detail: this.apiKey ? detail.split(this.apiKey).join('[redacted]') : detail,
      cause,
    });
  }
}

function field(value: unknown, key: 'name' | 'message'): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === 'string' ? found : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function outcomeOf(failure: NowPaymentsError): ProviderOutcome {
  switch (failure.kind) {
    case 'http':
      return failure.httpStatus === undefined
        ? 'bad_response'
        : outcomeOfStatus(failure.httpStatus);
    case 'timeout':
      return 'timeout';
    case 'network':
      return 'network_error';
    case 'bad-response':
      return 'bad_response';
  }
}

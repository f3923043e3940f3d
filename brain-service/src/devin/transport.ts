import {
  type Logger,
  type Metrics,
  type ProviderCallMetrics,
  type ProviderOutcome,
  operationOf,
  outcomeOfStatus,
  providerCallMetrics,
  sleep,
} from '@meetmatt/infra';
import { DevinError, readDetail } from './errors';
import { type DevinRetryPolicy, isRetryableStatus, parseRetryAfter, retryDelay } from './retry';

export interface DevinTransportConfig {
  apiUrl: string;
  apiKey: string;
  timeoutMs: number;
  retry: DevinRetryPolicy;
  logger?: Logger;
  /** Each attempt counted and timed in `provider_request_duration_seconds{provider="devin"}`. */
  metrics?: Metrics;
}

export interface DevinRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Starts with /v1; ids already encoded. */
  path: string;
  query?: URLSearchParams;
  body?: unknown;
  /**
   * Whether sending the request twice is harmless. A request that is not (a create without
   * `idempotent`) is repeated only when Devin surely never acted on it: a 429, or a refused
   * connection. After a 5xx or a timeout the first one may have started a session already.
   */
  repeatable: boolean;
  signal?: AbortSignal;
}

/** An answer that is not worth retrying: any 2xx, and the 4xx the caller interprets. */
export interface DevinResponse {
  status: number;
  body: unknown;
  attempts: number;
}

type Attempt =
  | { kind: 'response'; status: number; body: unknown; retryAfterMs: number | null }
  | { kind: 'timeout' }
  | { kind: 'network'; error: unknown; refused: boolean }
  | { kind: 'aborted'; error: unknown };

/**
 * One HTTP exchange with Devin, retried: fetch with a per-attempt timeout, Bearer auth,
 * exponential backoff with jitter, Retry-After honoured, one log line per attempt.
 */
export class DevinTransport {
  private readonly baseUrl: string;
  private readonly calls: ProviderCallMetrics | undefined;

  constructor(private readonly config: DevinTransportConfig) {
    this.calls = config.metrics ? providerCallMetrics(config.metrics, 'devin') : undefined;
    // Joined by hand: `new URL('/v1/…', base)` would drop a path prefix of the base URL.
    this.baseUrl = config.apiUrl.replace(/\/+$/, '');
  }

  async send(request: DevinRequest): Promise<DevinResponse> {
    const { maxAttempts } = this.config.retry;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      const result = await this.attemptOnce(request);
      const durationMs = Math.round(performance.now() - started);
      const outcome = outcomeOf(result);
      if (outcome)
        this.calls?.observe(
          operationOf(request.method, request.path),
          outcome,
          (performance.now() - started) / 1000,
        );
      if (result.kind === 'response' && !isRetryableStatus(result.status)) {
        this.log(request, attempt, durationMs, result, 'answered');
        return { status: result.status, body: result.body, attempts: attempt };
      }
      const retryAfterMs = result.kind === 'response' ? result.retryAfterMs : null;
      const delayMs =
        attempt < maxAttempts && mayRetry(result, request.repeatable)
          ? retryDelay(this.config.retry, attempt, retryAfterMs)
          : null;
      if (delayMs === null) {
        this.log(request, attempt, durationMs, result, 'gave up');
        throw this.failure(request, result, attempt);
      }
      this.log(request, attempt, durationMs, result, 'retrying', delayMs);
      await sleep(delayMs, request.signal);
      if (request.signal?.aborted)
        throw this.failure(request, { kind: 'aborted', error: request.signal.reason }, attempt);
    }
  }

  private async attemptOnce(request: DevinRequest): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
    try {
      const response = await fetch(this.url(request), {
        method: request.method,
        headers: this.headers(request),
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal,
      });
      const body = parseBody(await response.text());
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      return { kind: 'response', status: response.status, body, retryAfterMs };
    } catch (error) {
      if (request.signal?.aborted) return { kind: 'aborted', error };
      if (timeout.aborted) return { kind: 'timeout' };
      return { kind: 'network', error, refused: errorCode(error) === 'ECONNREFUSED' };
    }
  }

  private url(request: DevinRequest): string {
    const query = request.query?.toString();
    return `${this.baseUrl}${request.path}${query ? `?${query}` : ''}`;
  }

  private headers(request: DevinRequest): Record<string, string> {
    return {
      Authorization: `Bearer ${this.config.apiKey}`,
      Accept: 'application/json',
      ...(request.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    };
  }

  /** The error for an answer the caller cannot use (an unexpected 4xx). */
  reject(request: DevinRequest, response: DevinResponse, retryAfterMs?: number | null): DevinError {
    return new DevinError({
      kind: 'http',
      method: request.method,
      path: request.path,
      attempts: response.attempts,
      status: response.status,
      detail: this.scrub(readDetail(response.status, response.body)),
      retryable: isRetryableStatus(response.status),
      retryAfterMs: retryAfterMs ?? null,
    });
  }

  private failure(request: DevinRequest, result: Attempt, attempts: number): DevinError {
    const base = { method: request.method, path: request.path, attempts };
    switch (result.kind) {
      case 'response':
        return this.reject(request, { ...result, attempts }, result.retryAfterMs);
      case 'timeout':
        return new DevinError({
          ...base,
          kind: 'timeout',
          status: null,
          detail: `no answer within ${this.config.timeoutMs} ms`,
          retryable: true,
        });
      case 'network':
        return new DevinError({
          ...base,
          kind: 'network',
          status: null,
          detail: this.scrub(networkDetail(result.error)),
          retryable: true,
          cause: result.error,
        });
      case 'aborted':
        return new DevinError({
          ...base,
          kind: 'aborted',
          status: null,
          detail: 'the call was cancelled',
          retryable: false,
        });
    }
  }

  /** A server that echoes the request must not carry our key into an error or a log. */
  private scrub(text: string): string {
    return this.config.apiKey ? text.split(this.config.apiKey).join('[redacted]') : text;
  }

  private log(
    request: DevinRequest,
    attempt: number,
    durationMs: number,
    result: Attempt,
    outcome: 'answered' | 'retrying' | 'gave up',
    delayMs?: number,
  ): void {
    const status = result.kind === 'response' ? result.status : null;
    const ok = outcome === 'answered' && status !== null && status < 400;
    this.config.logger?.log(ok ? 'info' : 'warn', 'devin call', {
      provider: 'devin',
      method: request.method,
      path: request.path,
      status,
      failure: result.kind === 'response' ? undefined : result.kind,
      durationMs,
      attempt,
      outcome,
      ...(delayMs === undefined ? {} : { delayMs }),
    });
  }
}

/** What one attempt counts as; a call we cancelled ourselves is not the provider's doing. */
function outcomeOf(result: Attempt): ProviderOutcome | undefined {
  switch (result.kind) {
    case 'response':
      return outcomeOfStatus(result.status);
    case 'timeout':
      return 'timeout';
    case 'network':
      return 'network_error';
    case 'aborted':
      return undefined;
  }
}

function mayRetry(result: Attempt, repeatable: boolean): boolean {
  switch (result.kind) {
    case 'response':
      return result.status === 429 || repeatable;
    case 'timeout':
      return repeatable;
    case 'network':
      return repeatable || result.refused;
    case 'aborted':
      return false;
  }
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function networkDetail(error: unknown): string {
  // Duck-typed: undici's errors may come from another realm (jest), where instanceof fails.
  const message = messageOf(error) ?? String(error);
  const cause = messageOf((error as { cause?: unknown } | undefined)?.cause);
  return cause ? `${message}: ${cause}` : message;
}

function messageOf(value: unknown): string | undefined {
  const message = (value as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

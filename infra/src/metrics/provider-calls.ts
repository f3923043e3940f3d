import { type Histogram } from 'prom-client';
import { type Metrics } from './metrics';

/**
 * How one call to an outside provider ended: `ok` (a 2xx we could read), `client_error` (a 4xx:
 * ours to fix or the caller's), `server_error` (5xx, 429: theirs, retried), `timeout`,
 * `network_error` (no answer at all), `bad_response` (an answer we could not read).
 */
export type ProviderOutcome =
  'ok' | 'client_error' | 'server_error' | 'timeout' | 'network_error' | 'bad_response';

export interface ProviderCallMetrics {
  /** One HTTP exchange (one attempt of a retried call), as it ended. */
  observe(operation: string, outcome: ProviderOutcome, seconds: number): void;
}

const BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * `provider_request_duration_seconds{provider,operation,outcome}`: a histogram of the calls the
 * service makes to NOWPayments or Devin. Its `_count` by outcome is the error rate the alert
 * rules watch; its buckets, the latency. `operation` is the method and path with ids replaced
 * by `:id`, so the label keeps a handful of values.
 */
export function providerCallMetrics(metrics: Metrics, provider: string): ProviderCallMetrics {
  const histogram: Histogram<'provider' | 'operation' | 'outcome'> = metrics.histogram(
    'provider_request_duration_seconds',
    'Calls to an outside provider (NOWPayments, Devin), by operation and outcome',
    ['provider', 'operation', 'outcome'],
    BUCKETS,
  );
  return {
    observe(operation, outcome, seconds) {
      histogram.observe({ provider, operation, outcome }, seconds);
    },
  };
}

/** The outcome an HTTP status stands for. */
export function outcomeOfStatus(status: number): ProviderOutcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429 || status >= 500) return 'server_error';
  return 'client_error';
}

/** `GET /v1/payment/5524759814` → `GET /v1/payment/:id`: any path segment holding a digit. */
export function operationOf(method: string, path: string): string {
  const bare = path.split('?')[0] ?? path;
  const segments = bare.split('/').map((s) => (/\d/.test(s) && !/^v\d+$/.test(s) ? ':id' : s));
  return `${method} ${segments.join('/')}`;
}

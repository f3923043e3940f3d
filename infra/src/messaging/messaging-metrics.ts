import { type Counter, type Histogram } from 'prom-client';
import { type Metrics } from '../metrics/metrics';

export type ConsumeOutcome = 'handled' | 'duplicate' | 'retried' | 'parked';

/**
 * The bus's counters, registered once per service registry (`Metrics` returns the existing
 * metric when a name is asked for twice, so the relay and every consumer can each call this).
 */
export interface MessagingMetrics {
  published: Counter<'exchange'>;
  confirmed: Counter<'exchange'>;
  unroutable: Counter<'exchange' | 'routing_key'>;
  consumed: Counter<'queue' | 'outcome'>;
  retried: Counter<'queue' | 'delay_ms'>;
  parked: Counter<'queue' | 'reason'>;
  handleSeconds: Histogram<'queue'>;
}

export function messagingMetrics(metrics: Metrics): MessagingMetrics {
  return {
    published: metrics.counter('bus_published_total', 'Messages handed to the broker', [
      'exchange',
    ]),
    confirmed: metrics.counter('bus_confirmed_total', 'Messages the broker confirmed', [
      'exchange',
    ]),
    unroutable: metrics.counter(
      'bus_unroutable_total',
      'Confirmed messages no queue was bound for (returned as unroutable)',
      ['exchange', 'routing_key'],
    ),
    consumed: metrics.counter('bus_consumed_total', 'Messages consumed, by outcome', [
      'queue',
      'outcome',
    ]),
    retried: metrics.counter('bus_retried_total', 'Messages sent down the retry path', [
      'queue',
      'delay_ms',
    ]),
    parked: metrics.counter('bus_parked_total', 'Messages parked in a dead-letter queue', [
      'queue',
      'reason',
    ]),
    handleSeconds: metrics.histogram(
      'bus_handle_duration_seconds',
      'Time a consumer handler took',
      ['queue'],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    ),
  };
}

import { type Counter, type Histogram } from 'prom-client';
import {
  type EventStore,
  type RecordedEvent,
  START,
  type SubscriptionLag,
} from '../event-store/types';
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

/** `broker_connected` (a gauge) and `broker_reconnects_total` (a counter). */
export function registerBrokerMetrics(
  metrics: Metrics,
  broker: { readonly state: string; readonly reconnects: number },
): void {
  metrics.gauge('broker_connected', 'Whether the broker connection is up (1) or not (0)', [], (g) =>
    g.set(broker.state === 'connected' ? 1 : 0),
  );
  metrics.counterOf(
    'broker_reconnects_total',
    'Broker reconnections since start',
    () => broker.reconnects,
  );
}

/** What the relay gauges read: `Relay` itself, kept structural so this module imports no relay. */
export interface RelayLagSource {
  readonly isLeader: boolean;
  lag(): Promise<SubscriptionLag | undefined>;
}

/**
 * The relay's gauges, one unit per name: `relay_lag_events` (PostgreSQL, where positions count
 * events) or `relay_lag_bytes` (EventStoreDB, where they are offsets in its log), and
 * `relay_lag_seconds` on both: how long the oldest event not yet confirmed by the broker has
 * waited. All read 0 on an instance that does not lead.
 */
export function registerRelayMetrics(
  metrics: Metrics,
  relay: RelayLagSource,
  store: Pick<EventStore, 'kind' | 'readAll'>,
): void {
  metrics.gauge(
    'relay_leader',
    'Whether this instance is the one relaying (1) or not (0)',
    [],
    (g) => {
      g.set(relay.isLeader ? 1 : 0);
    },
  );
  const read = cachedFor(1_000, async () => {
    const lag = relay.isLeader ? await relay.lag().catch(() => undefined) : undefined;
    if (!lag || lag.behind === 0) return { behind: 0, seconds: 0 };
    const [oldest] = await store
      .readAll({ after: lag.position ?? START, maxCount: 1 })
      .catch(() => [] as RecordedEvent[]);
    const seconds = oldest ? Math.max(0, (Date.now() - oldest.createdAt.getTime()) / 1000) : 0;
    return { behind: lag.behind, seconds };
  });
  if (store.kind === 'postgres') {
    metrics.gauge(
      'relay_lag_events',
      'Events not yet confirmed by the broker (0 when not leading)',
      [],
      async (g) => g.set((await read()).behind),
    );
  } else {
    metrics.gauge(
      'relay_lag_bytes',
      'Bytes of the EventStoreDB log not yet relayed to the broker (0 when not leading)',
      [],
      async (g) => g.set((await read()).behind),
    );
  }
  metrics.gauge(
    'relay_lag_seconds',
    'How long the oldest event not yet confirmed by the broker has waited (0 when not leading)',
    [],
    async (g) => g.set((await read()).seconds),
  );
}

/** One consumer's queue, as the backlog gauges see it. */
export interface BacklogSource {
  readonly queue: string;
  /** Messages ready in the queue (not yet delivered), or undefined when it cannot be asked. */
  readyMessages(): Promise<number | undefined>;
  /** Messages in its parking (dead-letter) queue, or undefined when it cannot be asked. */
  parkedMessages(): Promise<number | undefined>;
  /** The event time (ms) of the newest message this consumer has taken, if any. */
  lastTakenAt(): number | undefined;
}

const backlogSources = new WeakMap<Metrics, Set<BacklogSource>>();

/**
 * `consumer_parked_messages{queue}`: messages in its parking queue (the DLQ alert);
 * `consumer_backlog_messages{queue}`: messages waiting in the queue; and
 * `consumer_backlog_seconds{queue}`: while messages wait, how old (by event time) the newest
 * message the consumer took is, so how far behind the events it is working; 0 when none waits.
 * A stuck handler makes it grow, as does a flood.
 */
export function registerConsumerBacklog(metrics: Metrics, source: BacklogSource): () => void {
  let sources = backlogSources.get(metrics);
  if (!sources) {
    const all = new Set<BacklogSource>();
    sources = all;
    backlogSources.set(metrics, all);
    const read = cachedFor(1_000, () =>
      Promise.all(
        [...all].map(async (s) => ({
          source: s,
          ready: await s.readyMessages().catch(() => undefined),
          parked: await s.parkedMessages().catch(() => undefined),
        })),
      ),
    );
    metrics.gauge(
      'consumer_backlog_messages',
      'Messages waiting in a consumer’s queue',
      ['queue'],
      async (g) => {
        g.reset();
        for (const { source: s, ready } of await read())
          if (ready !== undefined) g.set({ queue: s.queue }, ready);
      },
    );
    metrics.gauge(
      'consumer_parked_messages',
      'Messages in a consumer’s parking (dead-letter) queue, waiting for an operator',
      ['queue'],
      async (g) => {
        g.reset();
        for (const { source: s, parked } of await read())
          if (parked !== undefined) g.set({ queue: s.queue }, parked);
      },
    );
    metrics.gauge(
      'consumer_backlog_seconds',
      'While messages wait in the queue, the age (event time) of the newest one the consumer took; 0 when none waits',
      ['queue'],
      async (g) => {
        g.reset();
        for (const { source: s, ready } of await read()) {
          if (ready === undefined) continue;
          const taken = s.lastTakenAt();
          const age = ready > 0 && taken !== undefined ? (Date.now() - taken) / 1000 : 0;
          g.set({ queue: s.queue }, Math.max(0, age));
        }
      },
    );
  }
  sources.add(source);
  const registered = sources;
  return () => registered.delete(source);
}

function cachedFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > ms) {
      at = Date.now();
      value = load();
    }
    return value;
  };
}

import { type Counter } from 'prom-client';
import { type ReadinessCheck, type ReadinessResult } from '../http/readiness';
import { type Metrics } from '../metrics/metrics';
import { formatPosition } from '../event-store/types';
import { type ProjectionState, type ProjectionStatus } from './status';

export type StatusSource = () => Promise<ProjectionStatus[]>;

export const DEFAULT_MAX_LAG_EVENTS = 1_000;

export interface ProjectionReadinessOptions {
  /** Not ready beyond this many unapplied events (default 1,000). */
  maxLagEvents?: number;
  /** Not ready when the oldest unapplied event has waited longer (default 30 s). */
  maxLagSeconds?: number;
  name?: string;
  timeoutMs?: number;
}

/**
 * /readyz: not ready while a projection has failed (its event id and error in the details) or
 * lags beyond the bounds. A projection an operator stopped, or one whose new version is being
 * built while its old tables serve, does not count as lagging: both are deliberate.
 */
export function projectionReadiness(
  source: StatusSource,
  options: ProjectionReadinessOptions = {},
): ReadinessCheck {
  const maxEvents = options.maxLagEvents ?? DEFAULT_MAX_LAG_EVENTS;
  const maxSeconds = options.maxLagSeconds ?? 30;
  return {
    name: options.name ?? 'projections',
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    async check(): Promise<ReadinessResult> {
      const statuses = await source();
      const problems = statuses.flatMap((s) => problemOf(s, maxEvents, maxSeconds));
      return {
        ok: problems.length === 0,
        ...(problems.length > 0 ? { error: problems.join('; ') } : {}),
        details: Object.fromEntries(statuses.map((s) => [s.name, summary(s)])),
      };
    },
  };
}

function problemOf(status: ProjectionStatus, maxEvents: number, maxSeconds: number): string[] {
  if (status.state === 'failed')
    return [`${status.name} failed on event ${status.failedEventId}: ${status.error}`];
  if (status.state === 'stopped' || status.state === 'rebuilding' || !status.lag) return [];
  const { events, seconds } = status.lag;
  if (events > maxEvents || seconds > maxSeconds)
    return [`${status.name} lags ${events} events, ${Math.round(seconds)} s`];
  return [];
}

function summary(status: ProjectionStatus) {
  return {
    state: status.state,
    version: status.version,
    position: formatPosition(status.position),
    lagEvents: status.lag?.events,
    lagSeconds: status.lag ? Math.round(status.lag.seconds * 10) / 10 : undefined,
    ...(status.failedEventId ? { failedEventId: status.failedEventId, error: status.error } : {}),
    ...(status.rebuild
      ? {
          rebuild: {
            version: status.rebuild.version,
            eventsDone: status.rebuild.eventsDone,
            state: status.rebuild.state,
          },
        }
      : {}),
  };
}

const STATES: ProjectionState[] = ['running', 'catching-up', 'rebuilding', 'stopped', 'failed'];

/**
 * /metrics: lag in events and seconds and the state of each projection, read from the status
 * table at scrape time (one read shared by the gauges), and a counter of events applied here.
 */
export function registerProjectionMetrics(
  metrics: Metrics,
  source: StatusSource,
): { applied: Counter<'projection'> } {
  const cached = cachedFor(1_000, source);
  metrics.gauge(
    'projection_lag_events',
    'Events a projection has not applied yet',
    ['projection'],
    async (g) => {
      g.reset();
      for (const s of await cached()) g.set({ projection: s.name }, s.lag?.events ?? 0);
    },
  );
  metrics.gauge(
    'projection_lag_seconds',
    'How long the oldest unapplied event has waited',
    ['projection'],
    async (g) => {
      g.reset();
      for (const s of await cached()) g.set({ projection: s.name }, s.lag?.seconds ?? 0);
    },
  );
  metrics.gauge(
    'projection_state',
    'A projection’s state (1 for the current one)',
    ['projection', 'state'],
    async (g) => {
      g.reset();
      for (const s of await cached())
        for (const state of STATES) g.set({ projection: s.name, state }, s.state === state ? 1 : 0);
    },
  );
  const applied = metrics.counter(
    'projection_events_applied_total',
    'Events applied to read models by this instance',
    ['projection'],
  );
  return { applied };
}

function cachedFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > ms) {
      at = Date.now();
      value = load();
      value.catch(() => (value = undefined));
    }
    return value;
  };
}

import { WrongExpectedRevisionError } from '../event-store/errors';
import { type EventStore } from '../event-store/types';
import { type Metrics } from './metrics';

/**
 * The same store, with its appends measured: `eventstore_append_duration_seconds{outcome}`
 * (`ok`, `conflict` for a wrong expected revision, `error`) and
 * `eventstore_appended_events_total{type}`, the events written by type. The second is what the
 * journey alert compares across services (payments confirmed against deploys requested).
 * Everything else goes to the store unchanged (a Proxy, so `instanceof` still holds).
 */
export function withAppendMetrics<S extends EventStore>(store: S, metrics: Metrics): S {
  const duration = metrics.histogram(
    'eventstore_append_duration_seconds',
    'Time an append to one stream took, by outcome (ok, conflict, error)',
    ['outcome'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  const appended = metrics.counter(
    'eventstore_appended_events_total',
    'Events this instance appended, by type',
    ['type'],
  );
  const appendToStream: EventStore['appendToStream'] = async (streamId, events, options) => {
    const stop = duration.startTimer();
    try {
      const result = await store.appendToStream(streamId, events, options);
      stop({ outcome: 'ok' });
      for (const event of events) appended.inc({ type: event.type });
      return result;
    } catch (error) {
      stop({ outcome: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
      throw error;
    }
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'appendToStream') return appendToStream;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

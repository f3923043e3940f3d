import { WrongExpectedRevisionError } from '../event-store/errors';
import { type EventStore } from '../event-store/types';
import { type Metrics } from './metrics';

/**
 * The same store, with its appends measured: `eventstore_append_duration_seconds{outcome}`
 * (`ok`, `conflict` for a wrong expected revision, `error`) and
 * `eventstore_appended_events_total{type}`, the events written by type. The second is what the
 * journey alert compares across services (payments confirmed against deploys requested).
 *
 * The store itself is returned, its `appendToStream` replaced on the instance: `instanceof`,
 * identity and every other member stay the store's own, nothing is bound again per call, and a
 * later replacement of `appendToStream` (a test's spy, which calls this one as its original)
 * wraps it instead of being hidden by it. (A Proxy did both wrong: a spy set through it landed on
 * the target, and the measured append then called the spy, which called it again, without end.)
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
  const append = store.appendToStream.bind(store);
  store.appendToStream = async (streamId, events, options) => {
    const stop = duration.startTimer();
    try {
      const result = await append(streamId, events, options);
      stop({ outcome: 'ok' });
      for (const event of events) appended.inc({ type: event.type });
      return result;
    } catch (error) {
      stop({ outcome: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
      throw error;
    }
  };
  return store;
}

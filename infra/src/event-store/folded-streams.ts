import { type Decider, type DomainEvent } from '../domain/decider';
import { type LoadedStream } from './command-handler';
import { type EventCatalog } from './event-catalog';
import { type EventStore } from './types';

/** A stream folded into its decider's state, as `FoldedStreams` last read it. */
export type FoldedStream<State> = Omit<LoadedStream<never, State>, 'events'>;

/**
 * Streams folded into their deciders' states and kept up to date from their revisions: a read
 * returns what the stream says now (never a remembered state), but asks the store only for the
 * events after the revision it last saw and folds those in. It pays where a process reads the
 * same long stream again and again: a build worker reads its agent's stream on every poll, and
 * the stream grows by an event per poll while Devin works (read whole and parsed twice a poll
 * before, it was most of the brain's database traffic under load). Remembers `size` streams at
 * most, the least recently read going first. Only for streams whose events are never rewritten
 * (ours: the store appends, nothing updates an event).
 */
export class FoldedStreams<Event extends DomainEvent, State> {
  private readonly known = new Map<string, FoldedStream<State>>();

  constructor(
    private readonly options: {
      store: EventStore;
      catalog: EventCatalog<Event>;
      decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>;
      size?: number;
    },
  ) {}

  async read(streamId: string): Promise<FoldedStream<State>> {
    const { store, catalog, decider } = this.options;
    const before = this.known.get(streamId);
    const recorded = await store.readStream(
      streamId,
      before ? { fromRevision: before.revision + 1 } : {},
    );
    const last = recorded[recorded.length - 1];
    if (!last) {
      if (!before)
        return {
          state: decider.initialState(),
          revision: -1,
          correlationId: undefined,
          lastEventId: undefined,
        };
      this.remember(streamId, before); // recently read: kept longest
      return before;
    }
    const folded: FoldedStream<State> = {
      state: recorded
        .map((r) => catalog.toDomain(r))
        .reduce(decider.evolve, before?.state ?? decider.initialState()),
      revision: last.revision,
      correlationId: before ? before.correlationId : recorded[0]!.metadata.correlationId,
      lastEventId: last.id,
      position: last.position,
    };
    this.remember(streamId, folded);
    return folded;
  }

  private remember(streamId: string, folded: FoldedStream<State>): void {
    const current = this.known.get(streamId);
    // Two reads of one stream at once: keep whichever saw more of it.
    if (current && current.revision > folded.revision) return;
    this.known.delete(streamId);
    this.known.set(streamId, folded);
    if (this.known.size > (this.options.size ?? 10_000)) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }
}

import { type Decider, type DomainError, type DomainEvent, isDomainError } from '../domain';
import { type CausalMetadata, type EventCatalog } from './event-catalog';
import { WrongExpectedRevisionError } from './errors';
import { type EventStore, type ExpectedRevision, type Position } from './types';

export type CommandResult<Event, State> =
  | {
      ok: true;
      /** The events this command appended (none when the command changed nothing). */
      events: Event[];
      state: State;
      /** Revision of the stream's last event; -1 when the stream does not exist. */
      revision: number;
      /** Where the last appended event sits in `$all` (for read-your-writes); absent when nothing was appended. */
      position?: Position;
    }
  | { ok: false; error: DomainError; state: State; revision: number };

export interface HandleCommandOptions<Command, Event extends DomainEvent, State> {
  store: EventStore;
  catalog: EventCatalog<Event>;
  decider: Decider<Command, Event, State>;
  streamId: string;
  command: Command;
  metadata: CausalMetadata;
  /** Attempts in all when another writer got there first (default 5). */
  maxAttempts?: number;
}

/**
 * Load, fold, decide, append with the revision that was read. A conflict means the stream moved
 * while we decided: reload and decide again on the new state, a bounded number of times.
 */
export async function handleCommand<Command, Event extends DomainEvent, State>(
  options: HandleCommandOptions<Command, Event, State>,
): Promise<CommandResult<Event, State>> {
  const { store, catalog, decider, streamId, command, metadata } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await loadState(store, catalog, decider, streamId);
    const decided = decider.decide(command, state);
    if (isDomainError(decided)) return { ok: false, error: decided, state, revision };
    if (decided.length === 0) return { ok: true, events: [], state, revision };
    const expected: ExpectedRevision = revision < 0 ? 'no_stream' : revision;
    try {
      const appended = await store.appendToStream(
        streamId,
        decided.map((event) => catalog.toNew(event, metadata)),
        { expectedRevision: expected },
      );
      return {
        ok: true,
        events: decided,
        state: decided.reduce(decider.evolve, state),
        revision: appended.nextExpectedRevision,
        position: appended.position,
      };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError) || attempt >= maxAttempts) throw error;
    }
  }
}

/** A stream folded into its decider's state, with what a command appending to it needs. */
export interface LoadedStream<Event, State> {
  state: State;
  /** The revision it was read at; -1: no stream. */
  revision: number;
  events: Event[];
  /** The correlation id of its first event: the journey the stream belongs to. */
  correlationId: string | undefined;
  /** Its last event's id: the cause of what a process records next. */
  lastEventId: string | undefined;
}

/** A stream folded into its decider's state, with the revision it was read at (-1: no stream). */
export async function loadState<Event extends DomainEvent, State>(
  store: EventStore,
  catalog: EventCatalog<Event>,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  streamId: string,
): Promise<LoadedStream<Event, State>> {
  const recorded = await store.readStream(streamId);
  const events = recorded.map((r) => catalog.toDomain(r));
  const last = recorded[recorded.length - 1];
  return {
    state: events.reduce(decider.evolve, decider.initialState()),
    revision: last ? last.revision : -1,
    events,
    correlationId: recorded[0]?.metadata.correlationId,
    lastEventId: last?.id,
  };
}

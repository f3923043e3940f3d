import { randomUUID } from 'node:crypto';
import {
  type Decider,
  type DomainError,
  type DomainEvent,
  domainError,
  isDomainError,
} from '../domain/decider';
import { backoffDelay, sleep } from '../runtime/backoff';
import { requestContext } from '../runtime/request-context';
import { type CausalMetadata, type EventCatalog } from './event-catalog';
import { WrongExpectedRevisionError } from './errors';
import { type CachedState, type StateCache } from './state-cache';
import { type EventStore, type Position } from './types';

export { type CachedState, StateCache, type StateCacheOptions } from './state-cache';

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
  | {
      ok: false;
      error: DomainError;
      state: State;
      revision: number;
      /**
       * Where the stream's newest event sits in `$all`, when the refusal is a `stale-revision`:
       * wait for it before answering, so the client's next read shows the revision it must use.
       */
      position?: Position;
    };

/** The command, or how to build it from the state it will be decided on (fetching outside facts). */
export type CommandOf<Command, State> =
  Command | ((state: State, revision: number) => Command | Promise<Command>);

/** What a command's events are stamped from, besides the cause: the state they lead to. */
export interface StampInput<State> {
  /** The state after the events. */
  state: State;
  /** The correlation id of the stream's first event (its journey); undefined for a new stream. */
  correlationId: string | undefined;
}

export interface HandleCommandOptions<Command, Event extends DomainEvent, State> {
  store: EventStore;
  catalog: EventCatalog<Event>;
  decider: Decider<Command, Event, State>;
  streamId: string;
  /** Built again on every attempt when it is a function, so it always sees the state it decides on. */
  command: CommandOf<Command, State>;
  /**
   * If-Match: decide only on this revision. A stream read at another revision, or moved by
   * another writer before the append, is a `stale-revision` domain error, never retried.
   */
  expectedRevision?: number;
  /**
   * The cause when it is not the request or message in `requestContext` (a consumed message's
   * ids), and the user the events concern. See `causalMetadata`.
   */
  metadata?: Partial<CausalMetadata>;
  /**
   * Final say on each event's metadata, from the state the events lead to (a stream's owner,
   * its journey) or the event itself (the cause of each of a batch).
   */
  stamp?: (metadata: CausalMetadata, after: StampInput<State>, event: Event) => CausalMetadata;
  /** Recent states of the streams this handler serves; see StateCache for when it is safe. */
  cache?: StateCache<State>;
  /**
   * Reads the state another way than folding the whole stream (a view of a long stream kept
   * up to date from its revision); called on every attempt.
   */
  load?: (streamId: string) => Promise<CachedState<State>>;
  /** Attempts in all when another writer got there first (default 10). */
  maxAttempts?: number;
}

/** The code of the domain error an If-Match that no longer holds becomes (HTTP 412). */
export const STALE_REVISION = 'stale-revision';

/** The default bound on attempts: each conflict means another writer appended meanwhile. */
const MAX_ATTEMPTS = 10;

/**
 * The one load → decide → append of every service. Load the stream (from the cache when it
 * has the stream), build the command from its state, decide, and append with the revision that
 * was read. A conflict means the stream moved while we decided: read it again and decide again
 * on the new state, after a short jittered pause, `maxAttempts` times in all; under If-Match a
 * conflict is the client's stale view instead, answered and not retried.
 *
 * With a cache: a cached state can only lack events appended elsewhere (another instance), so a
 * refusal or an If-Match mismatch decided on one is decided again on a fresh read, an append
 * from one conflicts and reads again, and "nothing to do" holds of any later state too.
 */
export async function handleCommand<Command, Event extends DomainEvent, State>(
  options: HandleCommandOptions<Command, Event, State>,
): Promise<CommandResult<Event, State>> {
  const { store, catalog, decider, streamId, cache, expectedRevision, stamp } = options;
  const load = options.load ?? ((id: string) => loadState(store, catalog, decider, id));
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  let cached = cache?.get(streamId);
  for (let attempt = 1; ; attempt++) {
    const fromCache = cached !== undefined;
    const loaded = cached ?? (await load(streamId));
    cached = undefined;
    const { state, revision } = loaded;
    if (expectedRevision !== undefined && revision !== expectedRevision) {
      if (fromCache) continue;
      const position = loaded.position ?? (await headOf(store, streamId));
      return {
        ok: false,
        error: staleRevision(revision),
        state,
        revision,
        ...(position ? { position } : {}),
      };
    }
    const command =
      typeof options.command === 'function'
        ? await (options.command as (state: State, revision: number) => Command | Promise<Command>)(
            state,
            revision,
          )
        : options.command;
    const decided = decider.decide(command, state);
    if (isDomainError(decided)) {
      if (fromCache) continue;
      return { ok: false, error: decided, state, revision };
    }
    if (decided.length === 0) {
      cache?.remember(streamId, loaded);
      return { ok: true, events: [], state, revision };
    }
    const next = decided.reduce(decider.evolve, state);
    const cause = causalMetadata(options.metadata);
    const after = { state: next, correlationId: loaded.correlationId };
    const events = decided.map((event) =>
      catalog.toNew(event, stamp ? stamp(cause, after, event) : cause),
    );
    try {
      const appended = await store.appendToStream(streamId, events, {
        expectedRevision: revision < 0 ? 'no_stream' : revision,
      });
      cache?.remember(streamId, {
        state: next,
        revision: appended.nextExpectedRevision,
        correlationId: loaded.correlationId ?? events[0]!.metadata.correlationId,
      });
      return {
        ok: true,
        events: decided,
        state: next,
        revision: appended.nextExpectedRevision,
        position: appended.position,
      };
    } catch (error) {
      cache?.forget(streamId);
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      if (expectedRevision !== undefined) {
        const position = await headOf(store, streamId);
        return {
          ok: false,
          error: staleRevision(error.actual),
          state,
          revision,
          ...(position ? { position } : {}),
        };
      }
      if (attempt >= maxAttempts) throw error;
      // Writers racing on one stream (a burst of duplicate IPNs, two issuers): spread them out.
      await sleep(backoffDelay(attempt, 1, 50));
    }
  }
}

/** The `$all` position of a stream's newest event (undefined: no stream). */
async function headOf(store: EventStore, streamId: string): Promise<Position | undefined> {
  const [last] = await store.readStream(streamId, { direction: 'backwards', maxCount: 1 });
  return last?.position;
}

function staleRevision(actual: number | 'no_stream'): DomainError {
  return domainError(
    STALE_REVISION,
    `The resource has changed (now at revision ${String(actual)})`,
  );
}

/**
 * The causal metadata of events recorded now: correlation and causation from `overrides`
 * (a consumed message's ids), else from the request or message being handled
 * (`requestContext`), else a new journey; the user only when one is named.
 */
export function causalMetadata(overrides: Partial<CausalMetadata> = {}): CausalMetadata {
  const context = requestContext.get();
  const correlationId = overrides.correlationId ?? context?.correlationId ?? randomUUID();
  const { userId, ...rest } = overrides;
  return {
    ...rest,
    correlationId,
    causationId: overrides.causationId ?? context?.causationId ?? correlationId,
    ...(userId ? { userId } : {}),
  };
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
  /** Its last event's `$all` position (undefined: no stream). */
  position?: Position;
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
    ...(last ? { position: last.position } : {}),
  };
}

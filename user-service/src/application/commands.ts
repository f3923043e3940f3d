import { randomUUID } from 'node:crypto';
import { type UserEvent } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type Decider,
  type DomainError,
  type DomainEvent,
  type EventCatalog,
  type EventStore,
  type Position,
  WrongExpectedRevisionError,
  comparePositions,
  domainError,
  isDomainError,
  loadState,
  requestContext,
} from '@meetmatt/infra';

export type CommandOutcome<State> =
  | { ok: true; state: State; revision: number; position: Position | undefined; appended: number }
  | { ok: false; error: DomainError };

export interface RunCommandOptions<Command, Event extends DomainEvent, State> {
  store: EventStore;
  catalog: EventCatalog<UserEvent>;
  decider: Decider<Command, Event, State>;
  streamId: string;
  /** The command, or how to build it from the current state (fetching outside facts). */
  command: Command | ((state: State, revision: number) => Promise<Command>);
  /** If-Match: decide only on this revision; a newer stream is `stale-revision`, never retried. */
  expectedRevision?: number;
  /** The user the events concern, for their metadata. */
  userId?: string;
  /** The cause when not the current request (a consumed message). */
  metadata?: Partial<CausalMetadata>;
}

/**
 * Load, fold, decide, append with the revision read; a concurrent writer means decide again on
 * the new state (a few times), except under If-Match, where it means the client's view is stale.
 */
export async function runCommand<Command, Event extends DomainEvent, State>(
  options: RunCommandOptions<Command, Event, State>,
): Promise<CommandOutcome<State>> {
  const catalog = options.catalog as unknown as EventCatalog<Event>;
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await loadState(
      options.store,
      catalog,
      options.decider,
      options.streamId,
    );
    if (options.expectedRevision !== undefined && revision !== options.expectedRevision)
      return { ok: false, error: staleRevision(revision) };
    const command =
      typeof options.command === 'function'
        ? await (options.command as (state: State, revision: number) => Promise<Command>)(
            state,
            revision,
          )
        : options.command;
    const decided = options.decider.decide(command, state);
    if (isDomainError(decided)) return { ok: false, error: decided };
    if (decided.length === 0)
      return { ok: true, state, revision, position: undefined, appended: 0 };
    const metadata = causalMetadata(options.userId, options.metadata);
    try {
      const result = await options.store.appendToStream(
        options.streamId,
        decided.map((event) => catalog.toNew(event, metadata)),
        { expectedRevision: revision < 0 ? 'no_stream' : revision },
      );
      return {
        ok: true,
        state: decided.reduce(options.decider.evolve, state),
        revision: result.nextExpectedRevision,
        position: result.position,
        appended: decided.length,
      };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      if (options.expectedRevision !== undefined)
        return { ok: false, error: staleRevision(error.actual) };
      if (attempt >= 5) throw error;
    }
  }
}

function staleRevision(actual: number | 'no_stream'): DomainError {
  return domainError(
    'stale-revision',
    `The resource has changed (now at revision ${String(actual)})`,
  );
}

/** A stream folded by its decider, with the revision it was read at (-1: no stream). */
export function loadStream<Event extends DomainEvent, State>(
  ctx: { store: EventStore; catalog: EventCatalog<UserEvent> },
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  streamId: string,
): Promise<{ state: State; revision: number; events: Event[] }> {
  return loadState(ctx.store, ctx.catalog as unknown as EventCatalog<Event>, decider, streamId);
}

/** Correlation and causation from the request or message being handled. */
export function causalMetadata(
  userId: string | undefined,
  overrides: Partial<CausalMetadata> = {},
): CausalMetadata {
  const context = requestContext.get();
  const correlationId = overrides.correlationId ?? context?.correlationId ?? randomUUID();
  return {
    correlationId,
    causationId: overrides.causationId ?? context?.causationId ?? correlationId,
    ...(userId ? { userId } : {}),
  };
}

/** The later of two positions (read-your-writes waits for the last thing a command wrote). */
export function latest(...positions: (Position | undefined)[]): Position | undefined {
  let best: Position | undefined;
  for (const p of positions) {
    if (!p) continue;
    if (!best || comparePositions(p, best) > 0) best = p;
  }
  return best;
}

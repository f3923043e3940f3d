import { type UserEvent } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type Decider,
  type DomainError,
  type DomainEvent,
  type EventCatalog,
  type EventStore,
  type Position,
  comparePositions,
  handleCommand,
  loadState,
} from '@meetmatt/infra';

export type CommandOutcome<State> =
  | { ok: true; state: State; revision: number; position: Position | undefined; appended: number }
  | {
      ok: false;
      error: DomainError;
      /** For a `stale-revision`: the stream's newest event, for the caller to wait for. */
      position?: Position;
    };

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

/** The one `handleCommand` (infra), with this service's catalog and outcome shape. */
export async function runCommand<Command, Event extends DomainEvent, State>(
  options: RunCommandOptions<Command, Event, State>,
): Promise<CommandOutcome<State>> {
  const { userId, metadata, expectedRevision } = options;
  const result = await handleCommand({
    store: options.store,
    catalog: options.catalog as unknown as EventCatalog<Event>,
    decider: options.decider,
    streamId: options.streamId,
    command: options.command,
    ...(expectedRevision !== undefined ? { expectedRevision } : {}),
    metadata: { ...metadata, userId },
    maxAttempts: 5,
  });
  if (!result.ok)
    return {
      ok: false,
      error: result.error,
      ...(result.position ? { position: result.position } : {}),
    };
  const { state, revision, position, events } = result;
  return { ok: true, state, revision, position, appended: events.length };
}

/** A stream folded by its decider, with the revision it was read at (-1: no stream). */
export function loadStream<Event extends DomainEvent, State>(
  ctx: { store: EventStore; catalog: EventCatalog<UserEvent> },
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  streamId: string,
): Promise<{ state: State; revision: number; events: Event[]; position?: Position }> {
  return loadState(ctx.store, ctx.catalog as unknown as EventCatalog<Event>, decider, streamId);
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

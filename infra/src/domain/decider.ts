// The pure domain kernel: what a service's `src/domain/` builds its aggregates from. Nothing
// here (and nothing it imports) does I/O, keeps time or logs; eslint.config.mjs holds every
// `src/domain/` to that, and infra/test/architecture/domain-purity.test.ts proves a decider loads alone.

/** An event as the domain sees it: its type and its (validated, current-version) data. */
export interface DomainEvent {
  type: string;
  data: unknown;
}

/** A rule the command broke: an expected outcome, answered (e.g. as a 409), not thrown. */
export interface DomainError {
  readonly kind: 'domain-error';
  /** Stable, kebab-case: HTTP answers it by code (`problemForDomainError`, infra/src/http). */
  readonly code: string;
  readonly message: string;
}

export function domainError(code: string, message: string): DomainError {
  return { kind: 'domain-error', code, message };
}

export function isDomainError(value: unknown): value is DomainError {
  return (
    typeof value === 'object' && value !== null && (value as DomainError).kind === 'domain-error'
  );
}

/**
 * An aggregate as three pure functions (Emmett's decider): no I/O, no clock, no logger. Time
 * and outside facts arrive on the command.
 */
export interface Decider<Command, Event extends DomainEvent, State> {
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
  decide: (command: Command, state: State) => Event[] | DomainError;
}

/** The state after `events`, from the initial state: evolve over a history. */
export function fold<Event extends DomainEvent, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: readonly Event[],
): State {
  return events.reduce(decider.evolve, decider.initialState());
}

/** What `command` decides on the state `history` folds to. */
export function decideOn<Command, Event extends DomainEvent, State>(
  decider: Decider<Command, Event, State>,
  history: readonly Event[],
  command: Command,
): Event[] | DomainError {
  return decider.decide(command, fold(decider, history));
}

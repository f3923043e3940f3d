import { type DomainEvent } from './event-catalog';

/** A rule the command broke: an expected outcome, answered (e.g. as a 409), not thrown. */
export interface DomainError {
  readonly kind: 'domain-error';
  /** Stable, kebab-case: the HTTP layer maps it to a status. */
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

export function fold<Event extends DomainEvent, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: readonly Event[],
): State {
  return events.reduce(decider.evolve, decider.initialState());
}

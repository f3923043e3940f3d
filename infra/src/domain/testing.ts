// `@meetmatt/infra/domain/testing`: given/when/then for deciders, as pure as the kernel.
import {
  type Decider,
  type DomainError,
  type DomainEvent,
  decideOn,
  fold,
  isDomainError,
} from './decider';

/**
 * Given/when/then for deciders, the way Emmett writes them:
 *
 *   spec.given([created]).when(confirm).then([confirmed]);
 *   spec.given([]).when(confirm).thenFails('payment-not-found');
 */
export function deciderSpec<Command, Event extends DomainEvent, State>(
  decider: Decider<Command, Event, State>,
) {
  return {
    given(history: Event[]) {
      return {
        when(command: Command) {
          const outcome = (): Event[] | DomainError => decideOn(decider, history, command);
          return {
            /** The decided events equal these. */
            then(expected: Event[]): void {
              const result = outcome();
              if (isDomainError(result)) {
                throw new Error(
                  `expected events, but the command failed: ${result.code} (${result.message})`,
                );
              }
              expect(result).toEqual(expected);
            },
            /** The command is refused with this code (and nothing is decided). */
            thenFails(code: string): DomainError {
              const result = outcome();
              if (!isDomainError(result)) {
                throw new Error(
                  `expected ${code}, but the command decided ${JSON.stringify(result.map((e) => e.type))}`,
                );
              }
              expect(result.code).toBe(code);
              return result;
            },
            /** The command is accepted and changes nothing (an idempotent repeat). */
            thenNothingHappens(): void {
              const result = outcome();
              if (isDomainError(result))
                throw new Error(`expected no change, but the command failed: ${result.code}`);
              expect(result).toEqual([]);
            },
            /** The state after applying what was decided. */
            thenState(check: (state: State) => void): void {
              const result = outcome();
              if (isDomainError(result)) throw new Error(`the command failed: ${result.code}`);
              check(fold(decider, [...history, ...result]));
            },
          };
        },
      };
    },
  };
}

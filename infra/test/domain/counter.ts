import { type Decider, domainError } from '@meetmatt/infra/domain';

/**
 * A small counter aggregate, written the way services write theirs: the infra tests exercise
 * the domain kernel (kernel.test.ts) and the event-store helpers (event-store/
 * domain-helpers.test.ts, which defines its events' schemas) with it. It lives in a domain
 * folder, not test/support/, because a domain test may import only domain files (the
 * domain-purity lint rule), so it is pure too: no schemas here, no I/O.
 */
export type CounterEvent =
  | { type: 'counter.opened'; data: { name: string } }
  | { type: 'counter.incremented'; data: { by: number } };
export type CounterCommand =
  | { type: 'Open'; data: { name: string } }
  | { type: 'Increment'; data: { by: number; max: number } };
export interface CounterState {
  name?: string;
  value: number;
}

export const counter: Decider<CounterCommand, CounterEvent, CounterState> = {
  initialState: () => ({ value: 0 }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'counter.opened':
        return { ...state, name: event.data.name };
      case 'counter.incremented':
        return { ...state, value: state.value + event.data.by };
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'Open':
        return state.name ? [] : [{ type: 'counter.opened', data: { name: command.data.name } }];
      case 'Increment':
        if (!state.name) return domainError('counter-not-found', 'open it first');
        if (state.value + command.data.by > command.data.max)
          return domainError('counter-full', 'over max');
        return [{ type: 'counter.incremented', data: { by: command.data.by } }];
    }
  },
};

/** The events, built for given-events tests. */
export const opened: CounterEvent = { type: 'counter.opened', data: { name: 'n' } };
export const incremented = (by: number): CounterEvent => ({
  type: 'counter.incremented',
  data: { by },
});

import { decideOn, domainError, fold, isDomainError } from '@meetmatt/infra/domain';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { counter, incremented, opened } from './counter';

describe('the domain kernel', () => {
  test('when a history is folded, then the state is every event evolved in order from the initial state', () => {
    expect(fold(counter, [])).toEqual({ value: 0 });
    expect(fold(counter, [opened, incremented(2), incremented(3)])).toEqual({
      name: 'n',
      value: 5,
    });
  });

  test('when a command is decided on a history, then it sees the folded state', () => {
    expect(
      decideOn(counter, [opened, incremented(9)], {
        type: 'Increment',
        data: { by: 1, max: 10 },
      }),
    ).toEqual([incremented(1)]);
    expect(
      decideOn(counter, [opened, incremented(10)], {
        type: 'Increment',
        data: { by: 1, max: 10 },
      }),
    ).toEqual(domainError('counter-full', 'over max'));
  });

  test('when a value is a domain error, then isDomainError says so, and of nothing else', () => {
    expect(isDomainError(domainError('x', 'y'))).toBe(true);
    for (const other of [null, undefined, 'x', [], new Error('x'), { code: 'x', message: 'y' }])
      expect(isDomainError(other)).toBe(false);
  });
});

describe('decider spec (given / when / then)', () => {
  const spec = deciderSpec(counter);

  test('when a command is valid, then its events are decided', () => {
    spec
      .given([opened])
      .when({ type: 'Increment', data: { by: 2, max: 10 } })
      .then([incremented(2)]);
  });

  test('when a rule is broken, then the domain error names it', () => {
    spec
      .given([])
      .when({ type: 'Increment', data: { by: 1, max: 10 } })
      .thenFails('counter-not-found');
    spec
      .given([opened, incremented(9)])
      .when({ type: 'Increment', data: { by: 2, max: 10 } })
      .thenFails('counter-full');
  });

  test('when a command is repeated, then nothing happens', () => {
    spec
      .given([opened])
      .when({ type: 'Open', data: { name: 'n' } })
      .thenNothingHappens();
  });

  test('when the state is checked, then it includes what was decided', () => {
    spec
      .given([opened, incremented(1)])
      .when({ type: 'Increment', data: { by: 2, max: 10 } })
      .thenState((state) => expect(state.value).toBe(3));
  });

  test('when the expectation is wrong, then the spec fails', () => {
    expect(() =>
      spec
        .given([])
        .when({ type: 'Increment', data: { by: 1, max: 10 } })
        .then([]),
    ).toThrow(/command failed: counter-not-found/);
    expect(() =>
      spec
        .given([opened])
        .when({ type: 'Open', data: { name: 'n' } })
        .thenFails('counter-not-found'),
    ).toThrow(/expected counter-not-found/);
  });
});

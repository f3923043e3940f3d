import { classifySession } from '../../src/devin/session-phase';

describe('classifySession', () => {
  it.each([
    ['finished', 'exit', 'finished'],
    ['finished', 'running', 'finished'],
    ['expired', 'exit', 'expired'],
    ['working', 'exit', 'exited'],
    [null, 'exit', 'exited'],
    [null, 'stopped', 'exited'],
    ['blocked', 'error', 'exited'],
    [null, 'finished', 'finished'],
  ])(
    'when status_enum is %s and status is %s, then the session is final (%s)',
    (statusEnum, status, reason) => {
      expect(classifySession({ status_enum: statusEnum, status })).toEqual({
        phase: 'final',
        reason,
      });
    },
  );

  it('when status_enum is blocked, then Devin waits for a message: blocked, not final', () => {
    expect(classifySession({ status_enum: 'blocked', status: 'running' })).toEqual({
      phase: 'blocked',
    });
  });

  it.each([
    'working',
    'suspend_requested',
    'suspend_requested_frontend',
    'resume_requested',
    'resume_requested_frontend',
    'resumed',
    'a_status_from_next_year',
    null,
  ])('when status_enum is %s on a running session, then keep waiting', (statusEnum) => {
    expect(classifySession({ status_enum: statusEnum, status: 'running' })).toEqual({
      phase: 'working',
    });
  });
});

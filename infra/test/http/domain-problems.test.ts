import { domainError } from '@meetmatt/infra/domain';
import { type DomainProblems, HttpError, problemForDomainError } from '@meetmatt/infra';

// What a client sees of an HttpError: status, problem type code, detail, field errors, headers.
const answer = (error: HttpError) => ({
  status: error.status,
  code: error.code,
  detail: error.detail,
  extras: error.extras,
});

const problems: DomainProblems = {
  'user-not-found': 404,
  'payment-not-found': { status: 404, code: 'not-found' },
  'wrong-password': 403,
  'invalid-credentials': { status: 401, code: 'unauthorized' },
  'too-many-attempts': { status: 429, code: 'rate-limited' },
  'expiry-too-far': {
    status: 400,
    code: 'validation-error',
    field: { field: 'expiresAt', in: 'body' },
  },
  'builds-blocked': { status: 402, detail: (message) => `No rebuild: ${message}` },
};

describe('one mapping from domain errors to problem+json', () => {
  test('when a code maps to a status, then the code is the problem type and the message the detail', () => {
    expect(
      answer(problemForDomainError(domainError('user-not-found', 'No such user'), problems)),
    ).toEqual(answer(new HttpError(404, 'user-not-found', 'No such user')));
    expect(
      answer(problemForDomainError(domainError('wrong-password', 'Not right'), problems)),
    ).toEqual(answer(new HttpError(403, 'wrong-password', 'Not right')));
  });

  test('when the table names a code or a detail, then those are answered instead', () => {
    expect(
      answer(problemForDomainError(domainError('payment-not-found', 'No payment p'), problems)),
    ).toEqual(answer(HttpError.notFound('No payment p')));
    expect(
      answer(problemForDomainError(domainError('builds-blocked', 'refunded'), problems)),
    ).toEqual(answer(new HttpError(402, 'builds-blocked', 'No rebuild: refunded')));
  });

  test('when a code is not in the table, then it is a 409 with its own code, or what the caller says otherwise', () => {
    expect(
      answer(problemForDomainError(domainError('already-paid', 'It is paid'), problems)),
    ).toEqual(answer(HttpError.conflict('It is paid', 'already-paid')));
    expect(
      answer(
        problemForDomainError(
          domainError('agent-not-found', 'no such agent'),
          {},
          {
            status: 404,
            code: 'not-found',
            detail: () => 'No such agent',
          },
        ),
      ),
    ).toEqual(answer(HttpError.notFound('No such agent')));
  });

  test('when it is a 401, then it asks for a bearer token as every 401 does', () => {
    expect(
      answer(
        problemForDomainError(
          domainError('invalid-credentials', 'Wrong email or password'),
          problems,
        ),
      ),
    ).toEqual(answer(HttpError.unauthorized('Wrong email or password')));
  });

  test('when it is a 429, then Retry-After comes from the error (1 s when it has none)', () => {
    const limited = { ...domainError('too-many-attempts', 'Slow down'), retryAfterSeconds: 7 };
    expect(answer(problemForDomainError(limited, problems))).toEqual(
      answer(HttpError.tooManyRequests('Slow down', 7)),
    );
    expect(
      answer(problemForDomainError(domainError('too-many-attempts', 'Slow down'), problems)),
    ).toEqual(answer(HttpError.tooManyRequests('Slow down', 1)));
  });

  test('when the rule is about a field, then it is answered as a validation error naming the field', () => {
    expect(
      answer(
        problemForDomainError(domainError('expiry-too-far', 'at most a year ahead'), problems),
      ),
    ).toEqual(
      answer(
        HttpError.badRequest('Invalid request: expiresAt: at most a year ahead', [
          { field: 'expiresAt', in: 'body', message: 'at most a year ahead' },
        ]),
      ),
    );
  });
});

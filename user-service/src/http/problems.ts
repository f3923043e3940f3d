import {
  type DomainError,
  type DomainProblems,
  HttpError,
  type Principal,
  problemForDomainError,
} from '@meetmatt/infra';
import { HashingBusyError } from '../application/passwords';

const expiresAt = { field: 'expiresAt', in: 'body' } as const;
const token = { field: 'token', in: 'body' } as const;

/** The user service's answers to its domain errors; any other code is a 409. */
const domainProblems: DomainProblems = {
  'email-taken': 409,
  'user-exists': 409,
  'session-exists': 409,
  'api-key-exists': 409,
  'user-not-found': 404,
  'session-not-found': 404,
  'api-key-not-found': 404,
  'notification-not-found': 404,
  'stale-revision': 412,
  'invalid-credentials': { status: 401, code: 'unauthorized' },
  'invalid-refresh-token': { status: 401, code: 'unauthorized' },
  'refresh-token-reused': { status: 401, code: 'unauthorized' },
  'session-required': 403,
  'recent-auth-required': 403,
  'operator-required': 403,
  'wrong-password': 403,
  'too-many-attempts': { status: 429, code: 'rate-limited' },
  'token-invalid': { status: 400, code: 'validation-error', field: token },
  'token-used': 410,
  'token-expired': 410,
  'expiry-in-the-past': { status: 400, code: 'validation-error', field: expiresAt },
  'expiry-too-far': { status: 400, code: 'validation-error', field: expiresAt },
};

/** A domain error as the problem+json answer it becomes. */
export function problemFor(error: DomainError & { retryAfterSeconds?: number }): HttpError {
  return problemForDomainError(error, domainProblems);
}

/**
 * Runs work that hashes a password: when every hashing slot is busy, 503 with Retry-After
 * instead of a queue that grows without bound.
 */
export async function hashing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof HashingBusyError)) throw error;
    throw new HttpError(503, 'busy', 'Too many sign-ins at once: try again shortly', {
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
    });
  }
}

/** Unwraps a result, or throws the problem its error becomes. */
export function orThrow<T>(result: { ok: true; value: T } | { ok: false; error: DomainError }): T {
  if (!result.ok) throw problemFor(result.error);
  return result.value;
}

/** Your own resources; an operator may read anyone's. Someone else's reads as not there. */
export function mayRead(principal: Principal, userId: string): void {
  if (principal.userId !== userId && principal.role !== 'admin')
    throw HttpError.notFound('No such user');
}

/** Only your own resources change; an operator reading someone's is told so. */
export function mayChange(principal: Principal, userId: string): void {
  if (principal.userId === userId) return;
  if (principal.role === 'admin')
    throw HttpError.forbidden('Operators read other users’ resources but do not change them');
  throw HttpError.notFound('No such user');
}

/** `"7"`, `W/"7"` or `7` → 7; `*` → undefined (any revision); absent → null. */
export function parseIfMatch(header: string | undefined): number | undefined | null {
  if (header === undefined || header.trim() === '') return null;
  const value = header.trim();
  if (value === '*') return undefined;
  const match = /^(?:W\/)?"?(\d{1,9})"?$/.exec(value);
  if (!match)
    throw HttpError.badRequest('Invalid request: header If-Match: expected the ETag of a GET', [
      { field: 'If-Match', in: 'header', message: 'expected the ETag of a GET, e.g. "3"' },
    ]);
  return Number(match[1]);
}

export function etag(revision: number): string {
  return `"${revision}"`;
}

export function preconditionRequired(): HttpError {
  return new HttpError(
    428,
    'precondition-required',
    'Send If-Match with the ETag of GET /users/:id, so a change made meanwhile is not overwritten',
  );
}

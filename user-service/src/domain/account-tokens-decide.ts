import { type Decider, type DomainError, domainError, isDomainError } from '@meetmatt/infra/domain';
import {
  type AccountTokenEvent,
  type AccountTokensState,
  type TokenRequest,
  evolveAccountTokens,
  initialAccountTokensState,
} from './account-tokens';

/** A token about to be mailed: its request id, its hash (never the token) and its expiry. */
export interface TokenIssue {
  requestId: string;
  tokenHash: string;
  expiresAt: string;
}

/**
 * What the user's own stream says, fetched by the handler and passed in: whether there is a
 * user, their address now, and when they last changed their password.
 */
export interface UserFacts {
  userId: string;
  registered: boolean;
  email: string | null;
  passwordChangedAt: string | null;
}

export type AccountTokenCommand =
  | ({ type: 'RequestEmailVerification'; user: UserFacts; now: string } & TokenIssue)
  | { type: 'VerifyEmail'; user: UserFacts; tokenHash: string; now: string }
  | ({ type: 'RequestPasswordReset'; user: UserFacts; now: string } & TokenIssue)
  | { type: 'CompletePasswordReset'; user: UserFacts; tokenHash: string; now: string };

type Result = AccountTokenEvent[] | DomainError;

function requestEmailVerification(
  command: Extract<AccountTokenCommand, { type: 'RequestEmailVerification' }>,
  state: AccountTokensState,
): Result {
  const { user } = command;
  if (!user.registered || !user.email) return domainError('user-not-found', 'No such user');
  if (state.verifiedEmails.includes(user.email))
    return domainError('email-already-verified', 'This address is already verified');
  return [
    {
      type: 'user.email-verification-requested',
      data: {
        userId: user.userId,
        email: user.email,
        requestId: command.requestId,
        tokenHash: command.tokenHash,
        expiresAt: command.expiresAt,
        requestedAt: command.now,
      },
    },
  ];
}

/**
 * The request a presented token belongs to, if it may still be used: known, not used (a later
 * reset voids the earlier ones), not expired.
 */
function usableToken(
  requests: TokenRequest[],
  tokenHash: string,
  now: string,
): TokenRequest | DomainError {
  const request = requests.find((r) => r.tokenHash === tokenHash);
  if (!request) return domainError('token-invalid', 'This link is not valid');
  if (request.used)
    return domainError('token-used', 'This link was already used, or a newer one replaced it');
  if (Date.parse(request.expiresAt) <= Date.parse(now))
    return domainError('token-expired', 'This link has expired: ask for a new one');
  return request;
}

function verifyEmail(
  command: Extract<AccountTokenCommand, { type: 'VerifyEmail' }>,
  state: AccountTokensState,
): Result {
  const { user } = command;
  if (!user.registered) return domainError('token-invalid', 'This link is not valid');
  const request = usableToken(state.verifications, command.tokenHash, command.now);
  if (isDomainError(request)) return request;
  // The link proves the address it was sent to: one the user has since left proves nothing.
  if (request.email !== user.email)
    return domainError('token-invalid', 'This link was for another address');
  return [
    {
      type: 'user.email-verified',
      data: {
        userId: user.userId,
        email: request.email,
        requestId: request.requestId,
        verifiedAt: command.now,
      },
    },
  ];
}

function requestPasswordReset(
  command: Extract<AccountTokenCommand, { type: 'RequestPasswordReset' }>,
): Result {
  if (!command.user.registered) return domainError('user-not-found', 'No such user');
  return [
    {
      type: 'user.password-reset-requested',
      data: {
        userId: command.user.userId,
        requestId: command.requestId,
        tokenHash: command.tokenHash,
        expiresAt: command.expiresAt,
        requestedAt: command.now,
      },
    },
  ];
}

function completePasswordReset(
  command: Extract<AccountTokenCommand, { type: 'CompletePasswordReset' }>,
  state: AccountTokensState,
): Result {
  const { user } = command;
  if (!user.registered) return domainError('token-invalid', 'This link is not valid');
  const request = usableToken(state.resets, command.tokenHash, command.now);
  if (isDomainError(request)) return request;
  // A reset link asked for before the password was changed must not override the new one.
  if (
    user.passwordChangedAt &&
    Date.parse(request.requestedAt) <= Date.parse(user.passwordChangedAt)
  )
    return domainError('token-used', 'The password was changed since this link was sent');
  return [
    {
      type: 'user.password-reset-completed',
      data: { userId: user.userId, requestId: request.requestId, completedAt: command.now },
    },
  ];
}

export function decideAccountTokens(
  command: AccountTokenCommand,
  state: AccountTokensState,
): Result {
  switch (command.type) {
    case 'RequestEmailVerification':
      return requestEmailVerification(command, state);
    case 'VerifyEmail':
      return verifyEmail(command, state);
    case 'RequestPasswordReset':
      return requestPasswordReset(command);
    case 'CompletePasswordReset':
      return completePasswordReset(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const accountTokensDecider: Decider<
  AccountTokenCommand,
  AccountTokenEvent,
  AccountTokensState
> = {
  initialState: initialAccountTokensState,
  evolve: evolveAccountTokens,
  decide: decideAccountTokens,
};

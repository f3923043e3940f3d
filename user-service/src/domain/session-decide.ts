import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import {
  type RecentAuth,
  requireRecentPassword,
  requireSession,
  requireSystem,
} from './credentials';
import {
  type SessionEvent,
  type SessionRevokeReason,
  type SessionState,
  evolveSession,
  initialSessionState,
} from './session';

export type SessionCommand =
  | {
      type: 'StartSession';
      sessionId: string;
      userId: string;
      userAgent: string | null;
      ip: string | null;
      now: string;
    }
  | {
      type: 'RevokeSession';
      /** Who asks: only the session's owner may end it. */
      userId: string;
      reason: SessionRevokeReason;
      /** Who asks and how: ending other sessions needs a recent password. */
      auth: RecentAuth;
      now: string;
    }
  | {
      type: 'ConfirmPassword';
      userId: string;
      /** The handler checked the password just now; the domain records when. */
      now: string;
    };

type Result = SessionEvent[] | DomainError;

function start(
  command: Extract<SessionCommand, { type: 'StartSession' }>,
  state: SessionState,
): Result {
  if (state.status !== 'none') return domainError('session-exists', 'This session already exists');
  return [
    {
      type: 'user.session-started',
      data: {
        userId: command.userId,
        sessionId: command.sessionId,
        userAgent: command.userAgent,
        ip: command.ip,
        startedAt: command.now,
      },
    },
  ];
}

function revoke(
  command: Extract<SessionCommand, { type: 'RevokeSession' }>,
  state: SessionState,
): Result {
  // The credential first: an API key is refused whatever session it names.
  const refused =
    command.reason === 'password-reset'
      ? requireSystem(command.auth.credential)
      : command.reason === 'logout' || command.reason === 'refresh-token-reuse'
        ? requireSession(command.auth.credential)
        : requireRecentPassword(command.auth, command.now);
  if (refused) return refused;
  if (state.status === 'none' || state.userId !== command.userId)
    return domainError('session-not-found', 'No such session');
  if (state.status === 'revoked') return [];
  return [
    {
      type: 'user.session-revoked',
      data: {
        userId: state.userId,
        sessionId: state.sessionId,
        reason: command.reason,
        revokedAt: command.now,
      },
    },
  ];
}

function confirmPassword(
  command: Extract<SessionCommand, { type: 'ConfirmPassword' }>,
  state: SessionState,
): Result {
  if (state.status !== 'active' || state.userId !== command.userId)
    return domainError('session-not-found', 'No such session');
  return [
    {
      type: 'user.session-password-confirmed',
      data: { userId: state.userId, sessionId: state.sessionId, confirmedAt: command.now },
    },
  ];
}

export function decideSession(command: SessionCommand, state: SessionState): Result {
  switch (command.type) {
    case 'StartSession':
      return start(command, state);
    case 'RevokeSession':
      return revoke(command, state);
    case 'ConfirmPassword':
      return confirmPassword(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const sessionDecider: Decider<SessionCommand, SessionEvent, SessionState> = {
  initialState: initialSessionState,
  evolve: evolveSession,
  decide: decideSession,
};

import { type Decider, type DomainError, domainError } from '@meetmatt/infra';
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

export function decideSession(command: SessionCommand, state: SessionState): Result {
  switch (command.type) {
    case 'StartSession':
      return start(command, state);
    case 'RevokeSession':
      return revoke(command, state);
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

import { type EventOf, type userEvents } from '@meetmatt/contracts';

/** The events of a `user-session-<id>` stream. */
export type SessionEvent =
  | EventOf<typeof userEvents.sessionStarted>
  | EventOf<typeof userEvents.sessionPasswordConfirmed>
  | EventOf<typeof userEvents.sessionRevoked>;

export type SessionRevokeReason = EventOf<typeof userEvents.sessionRevoked>['data']['reason'];

export type SessionState =
  | { status: 'none' }
  | {
      status: 'active';
      sessionId: string;
      userId: string;
      startedAt: string;
      /** Sign-in, or the last POST /auth/confirm-password. */
      passwordCheckedAt: string;
    }
  | { status: 'revoked'; sessionId: string; userId: string; revokedAt: string };

export const initialSessionState = (): SessionState => ({ status: 'none' });

export function evolveSession(state: SessionState, event: SessionEvent): SessionState {
  switch (event.type) {
    case 'user.session-started':
      return {
        status: 'active',
        sessionId: event.data.sessionId,
        userId: event.data.userId,
        startedAt: event.data.startedAt,
        passwordCheckedAt: event.data.startedAt,
      };
    case 'user.session-password-confirmed':
      return state.status === 'active'
        ? { ...state, passwordCheckedAt: event.data.confirmedAt }
        : state;
    case 'user.session-revoked':
      return {
        status: 'revoked',
        sessionId: event.data.sessionId,
        userId: event.data.userId,
        revokedAt: event.data.revokedAt,
      };
  }
}

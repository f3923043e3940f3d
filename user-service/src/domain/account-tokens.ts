import { type EventOf, type userEvents } from '@meetmatt/contracts';

/**
 * The events of a `user-tokens-<userId>` stream: the single-use links mailed to a user. Their
 * own stream, not the user's: the user stream's revision is the profile's ETag, and a stranger
 * asking for a reset (or a click on a link) must not make the owner's If-Match stale.
 */
export type AccountTokenEvent =
  | EventOf<typeof userEvents.emailVerificationRequested>
  | EventOf<typeof userEvents.emailVerified>
  | EventOf<typeof userEvents.passwordResetRequested>
  | EventOf<typeof userEvents.passwordResetCompleted>;

/** A single-use token sent by mail: only its hash is known here. */
export interface TokenRequest {
  requestId: string;
  tokenHash: string;
  expiresAt: string;
  requestedAt: string;
  used: boolean;
  /** The address a verification was for (a reset has none). */
  email?: string;
}

export interface AccountTokensState {
  verifications: TokenRequest[];
  resets: TokenRequest[];
  /** The addresses proven by a link. */
  verifiedEmails: string[];
}

/** Requests remembered per kind: older ones are void (a newer mail was asked for since). */
export const REMEMBERED_TOKENS = 10;

export const initialAccountTokensState = (): AccountTokensState => ({
  verifications: [],
  resets: [],
  verifiedEmails: [],
});

export function evolveAccountTokens(
  state: AccountTokensState,
  event: AccountTokenEvent,
): AccountTokensState {
  switch (event.type) {
    case 'user.email-verification-requested': {
      const { requestId, tokenHash, expiresAt, email, requestedAt } = event.data;
      const request = { requestId, tokenHash, expiresAt, requestedAt, email, used: false };
      return { ...state, verifications: remember(state.verifications, request) };
    }
    case 'user.email-verified':
      return {
        ...state,
        verifiedEmails: [...new Set([...state.verifiedEmails, event.data.email])],
        verifications: markUsed(state.verifications, event.data.requestId),
      };
    case 'user.password-reset-requested': {
      const { requestId, tokenHash, expiresAt, requestedAt } = event.data;
      const request = { requestId, tokenHash, expiresAt, requestedAt, used: false };
      return { ...state, resets: remember(state.resets, request) };
    }
    case 'user.password-reset-completed':
      // One reset ends them all: every other link mailed before is void.
      return { ...state, resets: state.resets.map((r) => ({ ...r, used: true })) };
  }
}

function remember(list: TokenRequest[], request: TokenRequest): TokenRequest[] {
  return [...list, request].slice(-REMEMBERED_TOKENS);
}

function markUsed(list: TokenRequest[], requestId: string): TokenRequest[] {
  return list.map((r) => (r.requestId === requestId ? { ...r, used: true } : r));
}

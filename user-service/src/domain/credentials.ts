import { type DomainError, domainError } from '@meetmatt/infra/domain';

/**
 * What proved the caller's identity for a command. Managing credentials (API keys, the email,
 * the sessions of others) is for a person who has just typed their password: a leaked API key,
 * or a session token picked up from an unattended browser long after sign-in, must not be
 * enough to take the account over.
 */
export type Credential =
  | {
      kind: 'session';
      sessionId: string;
      /** When this session's user last typed their password (sign-in or confirmation). */
      passwordCheckedAt: string;
    }
  | { kind: 'api-key'; keyId: string }
  /** A person at the command line of the system (meetmatt users …), named for the record. */
  | { kind: 'operator'; operator: string }
  /** The service acting by itself (refresh-token reuse ends a session). */
  | { kind: 'system' };

/** How recent the password check must be, in the command (the domain reads no config). */
export interface RecentAuth {
  credential: Credential;
  /** RECENT_AUTH_MAX_AGE_MS. */
  maxAgeMs: number;
}

/**
 * Refuses a credential-managing command unless it comes from a session whose password was
 * checked within `maxAgeMs` of `now`.
 */
export function requireRecentPassword(auth: RecentAuth, now: string): DomainError | undefined {
  const { credential } = auth;
  if (credential.kind !== 'session')
    return domainError(
      'session-required',
      'Only a signed-in session can manage credentials: API keys cannot',
    );
  const age = Date.parse(now) - Date.parse(credential.passwordCheckedAt);
  if (!(age <= auth.maxAgeMs))
    return domainError(
      'recent-auth-required',
      'Confirm your password first (POST /auth/confirm-password), then try again',
    );
  return undefined;
}

/** Refuses a command that only a signed-in session may give (not an API key). */
export function requireSession(credential: Credential): DomainError | undefined {
  if (credential.kind === 'session' || credential.kind === 'system') return undefined;
  return domainError(
    'session-required',
    'Only a signed-in session can end sessions: API keys cannot',
  );
}

/**
 * Refuses what only the service itself does, having checked a proof of its own (a password
 * reset's token ends the account's sessions; no caller's credential could).
 */
export function requireSystem(credential: Credential): DomainError | undefined {
  if (credential.kind === 'system') return undefined;
  return domainError('system-only', 'Only a password reset ends sessions this way');
}

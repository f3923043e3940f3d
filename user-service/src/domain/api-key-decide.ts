import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import { type RecentAuth, requireRecentPassword } from './credentials';
import { type ApiKeyEvent, type ApiKeyState, evolveApiKey, initialApiKeyState } from './api-key';

export type ApiKeyCommand =
  | {
      type: 'CreateApiKey';
      keyId: string;
      userId: string;
      name: string;
      prefix: string;
      expiresAt: string | null;
      /** A key is a credential: only a session with a recent password makes one. */
      auth: RecentAuth;
      now: string;
    }
  | { type: 'RevokeApiKey'; userId: string; now: string };

type Result = ApiKeyEvent[] | DomainError;

/** The longest life a key may be given: one that never expires is asked for by leaving it out. */
export const API_KEY_MAX_LIFETIME_MS = 2 * 366 * 86_400_000;

function create(
  command: Extract<ApiKeyCommand, { type: 'CreateApiKey' }>,
  state: ApiKeyState,
): Result {
  if (state.status !== 'none') return domainError('api-key-exists', 'This key already exists');
  const refused = requireRecentPassword(command.auth, command.now);
  if (refused) return refused;
  if (command.expiresAt !== null && Date.parse(command.expiresAt) <= Date.parse(command.now))
    return domainError('expiry-in-the-past', 'expiresAt must be in the future');
  if (
    command.expiresAt !== null &&
    Date.parse(command.expiresAt) - Date.parse(command.now) > API_KEY_MAX_LIFETIME_MS
  )
    return domainError('expiry-too-far', 'expiresAt must be at most 2 years ahead');
  return [
    {
      type: 'user.api-key-created',
      data: {
        userId: command.userId,
        keyId: command.keyId,
        name: command.name,
        prefix: command.prefix,
        expiresAt: command.expiresAt,
        createdAt: command.now,
      },
    },
  ];
}

function revoke(
  command: Extract<ApiKeyCommand, { type: 'RevokeApiKey' }>,
  state: ApiKeyState,
): Result {
  if (state.status === 'none' || state.userId !== command.userId)
    return domainError('api-key-not-found', 'No such API key');
  if (state.status === 'revoked') return [];
  return [
    {
      type: 'user.api-key-revoked',
      data: { userId: state.userId, keyId: state.keyId, revokedAt: command.now },
    },
  ];
}

export function decideApiKey(command: ApiKeyCommand, state: ApiKeyState): Result {
  switch (command.type) {
    case 'CreateApiKey':
      return create(command, state);
    case 'RevokeApiKey':
      return revoke(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const apiKeyDecider: Decider<ApiKeyCommand, ApiKeyEvent, ApiKeyState> = {
  initialState: initialApiKeyState,
  evolve: evolveApiKey,
  decide: decideApiKey,
};

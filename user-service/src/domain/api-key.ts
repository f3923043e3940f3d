import { type EventOf, type userEvents } from '@meetmatt/contracts';

/** The events of a `user-apikey-<id>` stream. */
export type ApiKeyEvent =
  EventOf<typeof userEvents.apiKeyCreated> | EventOf<typeof userEvents.apiKeyRevoked>;

export type ApiKeyState =
  { status: 'none' } | { status: 'active' | 'revoked'; keyId: string; userId: string };

export const initialApiKeyState = (): ApiKeyState => ({ status: 'none' });

export function evolveApiKey(state: ApiKeyState, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'user.api-key-created':
      return { status: 'active', keyId: event.data.keyId, userId: event.data.userId };
    case 'user.api-key-revoked':
      return { status: 'revoked', keyId: event.data.keyId, userId: event.data.userId };
  }
}

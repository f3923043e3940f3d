import { type Principal } from '@meetmatt/infra';
import { type Credential, type RecentAuth } from '../domain/credentials';
import { sessionDecider } from '../domain/session-decide';
import { streams } from '../domain/streams';
import { loadStream } from './user-commands';
import { type UserDependencies } from './dependencies';

/**
 * What proved the caller: an API key (the token says so), or the session named by the token,
 * with when its password was last checked, read from the session's stream. A token whose `sid`
 * names no live session of its user is treated as an API key's: it cannot manage credentials.
 */
export async function credentialOf(
  deps: Pick<UserDependencies, 'catalog' | 'store'>,
  principal: Principal,
): Promise<Credential> {
  if (principal.apiKeyId) return { kind: 'api-key', keyId: principal.apiKeyId };
  const session = await loadStream(deps, sessionDecider, streams.session(principal.sessionId));
  if (session.state.status !== 'active' || session.state.userId !== principal.userId)
    return { kind: 'api-key', keyId: principal.sessionId };
  return {
    kind: 'session',
    sessionId: session.state.sessionId,
    passwordCheckedAt: session.state.passwordCheckedAt,
  };
}

export async function recentAuthOf(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'store'>,
  principal: Principal,
): Promise<RecentAuth> {
  return {
    credential: await credentialOf(deps, principal),
    maxAgeMs: deps.config.RECENT_AUTH_MAX_AGE_MS,
  };
}

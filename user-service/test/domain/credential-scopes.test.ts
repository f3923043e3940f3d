import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { apiKeyDecider } from '../../src/domain/api-key-decide';
import { type Credential, type RecentAuth } from '../../src/domain/credentials';
import { sessionDecider } from '../../src/domain/session-decide';
import { userDecider } from '../../src/domain/user-decide';

const now = '2026-01-01T12:00:00.000Z';
const minutesAgo = (m: number) => new Date(Date.parse(now) - m * 60_000).toISOString();
const maxAgeMs = 10 * 60_000;
const userId = randomUUID();
const sessionId = randomUUID();

const freshSession: RecentAuth = {
  credential: { kind: 'session', sessionId, passwordCheckedAt: minutesAgo(1) },
  maxAgeMs,
};
const staleSession: RecentAuth = {
  credential: { kind: 'session', sessionId, passwordCheckedAt: minutesAgo(11) },
  maxAgeMs,
};
const apiKey: RecentAuth = { credential: { kind: 'api-key', keyId: randomUUID() }, maxAgeMs };

const registered = {
  type: 'user.registered' as const,
  data: {
    userId,
    email: 'ada@example.com',
    displayName: 'Ada',
    role: 'user' as const,
    registeredAt: now,
  },
};

describe('API keys are made only by a session whose password was checked recently', () => {
  const spec = deciderSpec(apiKeyDecider);
  const create = (auth: RecentAuth, expiresAt: string | null = null) => ({
    type: 'CreateApiKey' as const,
    keyId: randomUUID(),
    userId,
    name: 'ci',
    prefix: 'abcdefgh1234',
    expiresAt,
    auth,
    now,
  });

  test('when an API key asks for a new key, then session-required', () => {
    spec.given([]).when(create(apiKey)).thenFails('session-required');
  });

  test('when a session whose password was checked 11 minutes ago asks, then recent-auth-required', () => {
    spec.given([]).when(create(staleSession)).thenFails('recent-auth-required');
  });

  test('when a session whose password was checked a minute ago asks, then the key is created', () => {
    spec
      .given([])
      .when(create(freshSession))
      .thenState((state) => expect(state).toMatchObject({ status: 'active', userId }));
  });

  test('when the key would expire more than two years ahead, then expiry-too-far', () => {
    spec
      .given([])
      .when(create(freshSession, '2029-01-01T00:00:00.000Z'))
      .thenFails('expiry-too-far');
  });
});

describe('the email is changed only by a session whose password was checked recently', () => {
  const spec = deciderSpec(userDecider);
  const change = (auth: RecentAuth, email = 'ada@new.example.com') => ({
    type: 'UpdateProfile' as const,
    email,
    auth,
    now,
  });

  test('when an API key changes the email, then session-required', () => {
    spec.given([registered]).when(change(apiKey)).thenFails('session-required');
  });

  test('when a stale session changes the email, then recent-auth-required', () => {
    spec.given([registered]).when(change(staleSession)).thenFails('recent-auth-required');
  });

  test('when a fresh session changes the email, then user.profile-updated carries it', () => {
    spec
      .given([registered])
      .when(change(freshSession))
      .then([
        {
          type: 'user.profile-updated',
          data: { userId, email: 'ada@new.example.com', updatedAt: now },
        },
      ]);
  });

  test('when an API key changes only the display name, then that is allowed', () => {
    spec
      .given([registered])
      .when({ type: 'UpdateProfile', displayName: 'Ada L.', auth: apiKey, now })
      .then([
        { type: 'user.profile-updated', data: { userId, displayName: 'Ada L.', updatedAt: now } },
      ]);
  });
});

describe('the password is changed only by a session that just gave it', () => {
  const spec = deciderSpec(userDecider);

  test('when an API key changes the password, then session-required', () => {
    spec
      .given([registered])
      .when({ type: 'ChangePassword', auth: apiKey, now })
      .thenFails('session-required');
  });

  test('when a session whose password was checked just now changes it, then user.password-changed without any secret', () => {
    spec
      .given([registered])
      .when({ type: 'ChangePassword', auth: freshSession, now })
      .then([{ type: 'user.password-changed', data: { userId, changedAt: now } }]);
  });
});

describe('sessions are ended only by sessions', () => {
  const spec = deciderSpec(sessionDecider);
  const started = {
    type: 'user.session-started' as const,
    data: { userId, sessionId, userAgent: null, ip: null, startedAt: minutesAgo(30) },
  };
  const revoke = (reason: 'logout' | 'logout-all' | 'revoked', auth: RecentAuth) => ({
    type: 'RevokeSession' as const,
    userId,
    reason,
    auth,
    now,
  });

  test('when an API key logs out, logs out everywhere or ends a session, then session-required', () => {
    for (const reason of ['logout', 'logout-all', 'revoked'] as const)
      spec.given([started]).when(revoke(reason, apiKey)).thenFails('session-required');
  });

  test('when a stale session ends all sessions or another one, then recent-auth-required', () => {
    for (const reason of ['logout-all', 'revoked'] as const)
      spec.given([started]).when(revoke(reason, staleSession)).thenFails('recent-auth-required');
  });

  test('when a stale session signs itself out, then that is allowed', () => {
    spec
      .given([started])
      .when(revoke('logout', staleSession))
      .thenState((state) => expect(state.status).toBe('revoked'));
  });

  test('when the password is confirmed, then the session records when', () => {
    spec
      .given([started])
      .when({ type: 'ConfirmPassword', userId, now })
      .then([
        { type: 'user.session-password-confirmed', data: { userId, sessionId, confirmedAt: now } },
      ]);
    spec
      .given([started])
      .when({ type: 'ConfirmPassword', userId, now })
      .thenState((state) =>
        expect(state).toMatchObject({ status: 'active', passwordCheckedAt: now }),
      );
  });

  test('when someone else confirms a password on it, then session-not-found', () => {
    spec
      .given([started])
      .when({ type: 'ConfirmPassword', userId: randomUUID(), now })
      .thenFails('session-not-found');
  });
});

describe('admin is granted only by an operator', () => {
  const spec = deciderSpec(userDecider);
  const operator: Credential = { kind: 'operator', operator: 'alice' };

  test('when anyone registers, then the role is user', () => {
    spec
      .given([])
      .when({ type: 'Register', userId, email: 'root@ops.example.com', displayName: 'Root', now })
      .thenState((state) => expect(state).toMatchObject({ status: 'registered', role: 'user' }));
  });

  test('when an operator grants admin, then user.role-changed names the operator', () => {
    spec
      .given([registered])
      .when({ type: 'ChangeRole', role: 'admin', credential: operator, now })
      .then([
        {
          type: 'user.role-changed',
          data: { userId, role: 'admin', previousRole: 'user', operator: 'alice', changedAt: now },
        },
      ]);
  });

  test('when a session or an API key asks for a role, then operator-required', () => {
    for (const auth of [freshSession, apiKey])
      spec
        .given([registered])
        .when({ type: 'ChangeRole', role: 'admin', credential: auth.credential, now })
        .thenFails('operator-required');
  });

  test('when the user has the role already, then nothing happens', () => {
    spec
      .given([registered])
      .when({ type: 'ChangeRole', role: 'user', credential: operator, now })
      .thenNothingHappens();
  });
});

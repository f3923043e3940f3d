import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { apiKeyDecider } from '../../src/domain/api-key-decide';
import { DEFAULT_PREFERENCES } from '../../src/domain/user';
import { wantsNotification } from '../../src/domain/notification';
import { notificationDecider } from '../../src/domain/notification-decide';
import { sessionDecider } from '../../src/domain/session-decide';

const now = '2026-01-01T00:00:00.000Z';
const auth = {
  credential: { kind: 'session' as const, sessionId: randomUUID(), passwordCheckedAt: now },
  maxAgeMs: 600_000,
};

describe('session decider', () => {
  const spec = deciderSpec(sessionDecider);
  const sessionId = randomUUID();
  const userId = randomUUID();
  const started = {
    type: 'user.session-started' as const,
    data: { userId, sessionId, userAgent: null, ip: null, startedAt: now },
  };

  test('when its owner revokes it, then user.session-revoked with the reason', () => {
    spec
      .given([started])
      .when({ type: 'RevokeSession', userId, reason: 'logout', auth, now })
      .then([
        {
          type: 'user.session-revoked',
          data: { userId, sessionId, reason: 'logout', revokedAt: now },
        },
      ]);
  });

  test('when another user revokes it, then session-not-found', () => {
    spec
      .given([started])
      .when({ type: 'RevokeSession', userId: randomUUID(), reason: 'revoked', auth, now })
      .thenFails('session-not-found');
  });

  test('when it is revoked already, then nothing happens', () => {
    spec
      .given([
        started,
        {
          type: 'user.session-revoked',
          data: { userId, sessionId, reason: 'logout', revokedAt: now },
        },
      ])
      .when({ type: 'RevokeSession', userId, reason: 'refresh-token-reuse', auth, now })
      .thenNothingHappens();
  });
});

describe('API key decider', () => {
  const spec = deciderSpec(apiKeyDecider);
  const keyId = randomUUID();
  const userId = randomUUID();

  test('when it expires before it is made, then expiry-in-the-past', () => {
    spec
      .given([])
      .when({
        type: 'CreateApiKey',
        keyId,
        userId,
        name: 'ci',
        prefix: 'abcdefgh1234',
        expiresAt: now,
        auth,
        now,
      })
      .thenFails('expiry-in-the-past');
  });

  test('when another user revokes it, then api-key-not-found', () => {
    spec
      .given([
        {
          type: 'user.api-key-created',
          data: {
            userId,
            keyId,
            name: 'ci',
            prefix: 'abcdefgh1234',
            expiresAt: null,
            createdAt: now,
          },
        },
      ])
      .when({ type: 'RevokeApiKey', userId: randomUUID(), now })
      .thenFails('api-key-not-found');
  });
});

describe('notification decider', () => {
  const spec = deciderSpec(notificationDecider);
  const notificationId = randomUUID();
  const userId = randomUUID();
  const create = {
    type: 'CreateNotification' as const,
    notificationId,
    userId,
    kind: 'payment.confirmed' as const,
    title: 'Payment confirmed',
    body: 'Yes',
    link: null,
    correlationId: null,
    sourceEventId: randomUUID(),
    now,
  };

  test('when the same source event arrives twice, then the second changes nothing', () => {
    const { type: _t, now: _n, ...data } = create;
    spec
      .given([{ type: 'user.notification-created', data: { ...data, createdAt: now } }])
      .when(create)
      .thenNothingHappens();
  });

  test('when another user marks it read, then notification-not-found', () => {
    const { type: _t, now: _n, ...data } = create;
    spec
      .given([{ type: 'user.notification-created', data: { ...data, createdAt: now } }])
      .when({ type: 'MarkNotificationRead', userId: randomUUID(), now })
      .thenFails('notification-not-found');
  });

  test('when in-app notifications are off, then nothing is wanted', () => {
    expect(
      wantsNotification(
        { ...DEFAULT_PREFERENCES, notificationChannels: ['email'] },
        'payment.confirmed',
      ),
    ).toBe(false);
    expect(
      wantsNotification(
        {
          ...DEFAULT_PREFERENCES,
          notifyOn: { ...DEFAULT_PREFERENCES.notifyOn, paymentFailed: false },
        },
        'payment.expired',
      ),
    ).toBe(false);
    expect(wantsNotification(DEFAULT_PREFERENCES, 'agent.deployed')).toBe(true);
  });
});

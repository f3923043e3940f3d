import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { userDecider } from '../../src/domain/user-decide';

const spec = deciderSpec(userDecider);
const userId = randomUUID();
const t0 = '2026-01-01T00:00:00.000Z';
const later = '2026-01-01T00:30:00.000Z';
const expiresAt = '2026-01-01T01:00:00.000Z';
const afterExpiry = '2026-01-01T01:00:00.001Z';
const registered = {
  type: 'user.registered' as const,
  data: {
    userId,
    email: 'ada@example.com',
    displayName: 'Ada',
    role: 'user' as const,
    registeredAt: t0,
  },
};
const issue = (n: number) => ({ requestId: randomUUID(), tokenHash: `hash-${n}`, expiresAt });
const verification = issue(1);
const verificationRequested = {
  type: 'user.email-verification-requested' as const,
  data: { userId, email: 'ada@example.com', ...verification, requestedAt: t0 },
};
const reset = issue(2);
const resetRequested = {
  type: 'user.password-reset-requested' as const,
  data: { userId, ...reset, requestedAt: t0 },
};
const resetCompleted = {
  type: 'user.password-reset-completed' as const,
  data: { userId, requestId: reset.requestId, completedAt: later },
};

describe('email verification', () => {
  test('when a user registers with a verification, then user.registered and the request, hash only', () => {
    spec
      .given([])
      .when({
        type: 'Register',
        userId,
        email: 'ada@example.com',
        displayName: 'Ada',
        verification,
        now: t0,
      })
      .then([registered, verificationRequested]);
  });

  test('when the mailed token comes back in time, then user.email-verified', () => {
    spec
      .given([registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: verification.tokenHash, now: later })
      .then([
        {
          type: 'user.email-verified',
          data: {
            userId,
            email: 'ada@example.com',
            requestId: verification.requestId,
            verifiedAt: later,
          },
        },
      ]);
  });

  test('when the token was used already, then token-used', () => {
    spec
      .given([
        registered,
        verificationRequested,
        {
          type: 'user.email-verified',
          data: {
            userId,
            email: 'ada@example.com',
            requestId: verification.requestId,
            verifiedAt: later,
          },
        },
      ])
      .when({ type: 'VerifyEmail', tokenHash: verification.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when the token has expired, then token-expired', () => {
    spec
      .given([registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: verification.tokenHash, now: afterExpiry })
      .thenFails('token-expired');
  });

  test('when the token is unknown, then token-invalid', () => {
    spec
      .given([registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: 'hash-other', now: later })
      .thenFails('token-invalid');
  });

  test('when the user moved to another address since the mail, then its token is invalid', () => {
    spec
      .given([
        registered,
        verificationRequested,
        {
          type: 'user.profile-updated',
          data: { userId, email: 'ada@elsewhere.example', updatedAt: later },
        },
      ])
      .when({ type: 'VerifyEmail', tokenHash: verification.tokenHash, now: later })
      .thenFails('token-invalid');
  });
});

describe('password reset', () => {
  test('when a reset is asked for, then user.password-reset-requested with the hash', () => {
    spec
      .given([registered])
      .when({ type: 'RequestPasswordReset', ...reset, now: t0 })
      .then([resetRequested]);
  });

  test('when nobody has the account, then user-not-found (the endpoint still answers 202)', () => {
    spec
      .given([])
      .when({ type: 'RequestPasswordReset', ...reset, now: t0 })
      .thenFails('user-not-found');
  });

  test('when the reset token comes back in time, then user.password-reset-completed', () => {
    spec
      .given([registered, resetRequested])
      .when({ type: 'CompletePasswordReset', tokenHash: reset.tokenHash, now: later })
      .then([resetCompleted]);
  });

  test('when the reset token is used a second time, then token-used', () => {
    spec
      .given([registered, resetRequested, resetCompleted])
      .when({ type: 'CompletePasswordReset', tokenHash: reset.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when another reset completed since, then an older token is void too', () => {
    const other = issue(3);
    spec
      .given([
        registered,
        resetRequested,
        { type: 'user.password-reset-requested', data: { userId, ...other, requestedAt: t0 } },
        {
          type: 'user.password-reset-completed',
          data: { userId, requestId: other.requestId, completedAt: later },
        },
      ])
      .when({ type: 'CompletePasswordReset', tokenHash: reset.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when the password was changed since the mail, then its reset token is void', () => {
    spec
      .given([
        registered,
        resetRequested,
        { type: 'user.password-changed', data: { userId, changedAt: later } },
      ])
      .when({ type: 'CompletePasswordReset', tokenHash: reset.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when the reset token has expired, then token-expired', () => {
    spec
      .given([registered, resetRequested])
      .when({ type: 'CompletePasswordReset', tokenHash: reset.tokenHash, now: afterExpiry })
      .thenFails('token-expired');
  });
});

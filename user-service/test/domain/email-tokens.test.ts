import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { accountTokensDecider } from '../../src/domain/account-tokens-decide';
import { sessionDecider } from '../../src/domain/session-decide';

const spec = deciderSpec(accountTokensDecider);
const userId = randomUUID();
const t0 = '2026-01-01T00:00:00.000Z';
const later = '2026-01-01T00:30:00.000Z';
const expiresAt = '2026-01-01T01:00:00.000Z';
const afterExpiry = '2026-01-01T01:00:00.001Z';
const user = {
  userId,
  registered: true,
  email: 'ada@example.com',
  passwordChangedAt: null,
};
const nobody = { userId, registered: false, email: null, passwordChangedAt: null };
const issue = (n: number) => ({ requestId: randomUUID(), tokenHash: `hash-${n}`, expiresAt });
const verification = issue(1);
const verificationRequested = {
  type: 'user.email-verification-requested' as const,
  data: { userId, email: 'ada@example.com', ...verification, requestedAt: t0 },
};
const verified = {
  type: 'user.email-verified' as const,
  data: {
    userId,
    email: 'ada@example.com',
    requestId: verification.requestId,
    verifiedAt: later,
  },
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
  test('when a verification is asked for, then the request with the token’s hash only', () => {
    spec
      .given([])
      .when({ type: 'RequestEmailVerification', user, ...verification, now: t0 })
      .then([verificationRequested]);
  });

  test('when the address is verified already, then email-already-verified', () => {
    spec
      .given([verificationRequested, verified])
      .when({ type: 'RequestEmailVerification', user, ...issue(9), now: later })
      .thenFails('email-already-verified');
  });

  test('when the mailed token comes back in time, then user.email-verified', () => {
    spec
      .given([verificationRequested])
      .when({ type: 'VerifyEmail', user, tokenHash: verification.tokenHash, now: later })
      .then([verified]);
  });

  test('when the token was used already, then token-used', () => {
    spec
      .given([verificationRequested, verified])
      .when({ type: 'VerifyEmail', user, tokenHash: verification.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when the token has expired, then token-expired', () => {
    spec
      .given([verificationRequested])
      .when({ type: 'VerifyEmail', user, tokenHash: verification.tokenHash, now: afterExpiry })
      .thenFails('token-expired');
  });

  test('when the token is unknown, then token-invalid', () => {
    spec
      .given([verificationRequested])
      .when({ type: 'VerifyEmail', user, tokenHash: 'hash-other', now: later })
      .thenFails('token-invalid');
  });

  test('when the user moved to another address since the mail, then its token is invalid', () => {
    spec
      .given([verificationRequested])
      .when({
        type: 'VerifyEmail',
        user: { ...user, email: 'ada@elsewhere.example' },
        tokenHash: verification.tokenHash,
        now: later,
      })
      .thenFails('token-invalid');
  });
});

describe('password reset', () => {
  test('when a reset is asked for, then user.password-reset-requested with the hash', () => {
    spec
      .given([])
      .when({ type: 'RequestPasswordReset', user, ...reset, now: t0 })
      .then([resetRequested]);
  });

  test('when nobody has the account, then user-not-found (the endpoint still answers 202)', () => {
    spec
      .given([])
      .when({ type: 'RequestPasswordReset', user: nobody, ...reset, now: t0 })
      .thenFails('user-not-found');
  });

  test('when the reset token comes back in time, then user.password-reset-completed', () => {
    spec
      .given([resetRequested])
      .when({ type: 'CompletePasswordReset', user, tokenHash: reset.tokenHash, now: later })
      .then([resetCompleted]);
  });

  test('when the reset token is used a second time, then token-used', () => {
    spec
      .given([resetRequested, resetCompleted])
      .when({ type: 'CompletePasswordReset', user, tokenHash: reset.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when another reset completed since, then an older token is void too', () => {
    const other = issue(3);
    spec
      .given([
        resetRequested,
        { type: 'user.password-reset-requested', data: { userId, ...other, requestedAt: t0 } },
        {
          type: 'user.password-reset-completed',
          data: { userId, requestId: other.requestId, completedAt: later },
        },
      ])
      .when({ type: 'CompletePasswordReset', user, tokenHash: reset.tokenHash, now: later })
      .thenFails('token-used');
  });

  test('when the password was changed since the mail, then its reset token is void', () => {
    spec
      .given([resetRequested])
      .when({
        type: 'CompletePasswordReset',
        user: { ...user, passwordChangedAt: later },
        tokenHash: reset.tokenHash,
        now: later,
      })
      .thenFails('token-used');
  });

  test('when the reset token has expired, then token-expired', () => {
    spec
      .given([resetRequested])
      .when({ type: 'CompletePasswordReset', user, tokenHash: reset.tokenHash, now: afterExpiry })
      .thenFails('token-expired');
  });
});

describe('sessions ended by a password reset', () => {
  const sessions = deciderSpec(sessionDecider);
  const sessionId = randomUUID();
  const started = {
    type: 'user.session-started' as const,
    data: { userId, sessionId, userAgent: null, ip: null, startedAt: t0 },
  };

  test('when the service ends a session for a reset, then user.session-revoked password-reset', () => {
    sessions
      .given([started])
      .when({
        type: 'RevokeSession',
        userId,
        reason: 'password-reset',
        auth: { credential: { kind: 'system' }, maxAgeMs: 0 },
        now: later,
      })
      .then([
        {
          type: 'user.session-revoked',
          data: { userId, sessionId, reason: 'password-reset', revokedAt: later },
        },
      ]);
  });

  test('when a caller’s session asks for that reason, then system-only', () => {
    sessions
      .given([started])
      .when({
        type: 'RevokeSession',
        userId,
        reason: 'password-reset',
        auth: {
          credential: { kind: 'session', sessionId, passwordCheckedAt: later },
          maxAgeMs: 600_000,
        },
        now: later,
      })
      .thenFails('system-only');
  });
});

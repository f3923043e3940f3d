import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { DEFAULT_PREFERENCES } from '../../src/domain/user';
import { userDecider } from '../../src/domain/user-decide';

const spec = deciderSpec(userDecider);
const userId = randomUUID();
const now = '2026-01-01T00:00:00.000Z';
const auth = {
  credential: { kind: 'session' as const, sessionId: randomUUID(), passwordCheckedAt: now },
  maxAgeMs: 600_000,
};
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

describe('user decider', () => {
  test('when a new user registers, then user.registered', () => {
    spec
      .given([])
      .when({
        type: 'Register',
        userId,
        email: 'ada@example.com',
        displayName: 'Ada',
        now,
      })
      .then([registered]);
  });

  test('when the user is registered already, then user-exists', () => {
    spec
      .given([registered])
      .when({
        type: 'Register',
        userId,
        email: 'ada@example.com',
        displayName: 'Ada',
        now,
      })
      .thenFails('user-exists');
  });

  test('when only the display name changes, then the event carries only it', () => {
    spec
      .given([registered])
      .when({ type: 'UpdateProfile', displayName: 'Ada L.', email: 'ada@example.com', auth, now })
      .then([
        { type: 'user.profile-updated', data: { userId, displayName: 'Ada L.', updatedAt: now } },
      ]);
  });

  test('when nothing changes, then nothing happens', () => {
    spec
      .given([registered])
      .when({ type: 'UpdateProfile', displayName: 'Ada', auth, now })
      .thenNothingHappens();
  });

  test('when an unknown user is updated, then user-not-found', () => {
    spec
      .given([])
      .when({ type: 'UpdateProfile', displayName: 'X', auth, now })
      .thenFails('user-not-found');
  });

  test('when the preferences are the same, then nothing happens', () => {
    spec
      .given([registered])
      .when({ type: 'UpdatePreferences', preferences: { ...DEFAULT_PREFERENCES }, now })
      .thenNothingHappens();
  });

  test('when the preferences change, then user.preferences-updated and the state has them', () => {
    const preferences = { ...DEFAULT_PREFERENCES, timeZone: 'Europe/Paris' };
    spec
      .given([registered])
      .when({ type: 'UpdatePreferences', preferences, now })
      .thenState((state) => {
        expect(state).toMatchObject({ status: 'registered', preferences });
      });
  });
});

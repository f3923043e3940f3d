import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { userDecider } from '../../src/domain/user-decide';

const spec = deciderSpec(userDecider);
const userId = randomUUID();
const now = '2026-01-01T00:00:00.000Z';
const later = '2026-01-02T00:00:00.000Z';
// An API key, not a fresh session: billing details need no recent password, only the email does.
const auth = { credential: { kind: 'api-key' as const, keyId: randomUUID() }, maxAgeMs: 600_000 };
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
const billing = {
  name: 'Ассистент 日本 Zoë SARL',
  addressLines: ['12 rue de l’Exemple', '75002 Paris'],
  country: 'FR',
  taxId: 'FR12345678901',
};
const billingChanged = (details: typeof billing | null, at = now) => ({
  type: 'user.billing-details-changed' as const,
  data: { userId, billing: details, changedAt: at },
});

describe('user decider: billing details', () => {
  test('when billing details are given, then user.billing-details-changed carries them, without a recent password', () => {
    spec
      .given([registered])
      .when({ type: 'UpdateProfile', billing, auth, now })
      .then([billingChanged(billing)]);
  });

  test('when the same details are given again, then nothing happens', () => {
    spec
      .given([registered, billingChanged(billing)])
      .when({
        type: 'UpdateProfile',
        billing: { ...billing, addressLines: [...billing.addressLines] },
        auth,
        now: later,
      })
      .then([]);
  });

  test('when one address line changes, then the whole new details are recorded', () => {
    const moved = { ...billing, addressLines: ['1 avenue Nouvelle', '75002 Paris'] };
    spec
      .given([registered, billingChanged(billing)])
      .when({ type: 'UpdateProfile', billing: moved, auth, now: later })
      .then([billingChanged(moved, later)]);
  });

  test('when the details are removed (null), then the event says null; removing none changes nothing', () => {
    spec
      .given([registered, billingChanged(billing)])
      .when({ type: 'UpdateProfile', billing: null, auth, now: later })
      .then([billingChanged(null, later)]);
    spec.given([registered]).when({ type: 'UpdateProfile', billing: null, auth, now }).then([]);
  });

  test('when the display name and the details change together, then two events: the profile and the billing details', () => {
    spec
      .given([registered])
      .when({ type: 'UpdateProfile', displayName: 'Ada L.', billing, auth, now })
      .then([
        { type: 'user.profile-updated', data: { userId, displayName: 'Ada L.', updatedAt: now } },
        billingChanged(billing),
      ]);
  });

  test('when the user does not exist, then user-not-found', () => {
    spec.given([]).when({ type: 'UpdateProfile', billing, auth, now }).thenFails('user-not-found');
  });

  test('when the details are recorded, then the state carries them', () => {
    const state = [registered, billingChanged(billing)].reduce(
      userDecider.evolve,
      userDecider.initialState(),
    );
    expect(state).toMatchObject({ status: 'registered', billing });
  });
});

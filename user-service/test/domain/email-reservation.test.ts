import { randomUUID } from 'node:crypto';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { emailReservationDecider } from '../../src/domain/email-reservation-decide';
import { RESERVATION_GRACE_MS } from '../../src/domain/email-reservation';

const spec = deciderSpec(emailReservationDecider);
const email = 'ada@example.com';
const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();

describe('email reservation decider', () => {
  const holder = randomUUID();
  const other = randomUUID();
  const reserved = {
    type: 'user.email-reserved' as const,
    data: { email, userId: holder, reservedAt: at(0) },
  };

  test('when the address is free, then it is reserved', () => {
    spec
      .given([])
      .when({ type: 'ReserveEmail', email, userId: other, holderUsesIt: false, now: at(5) })
      .then([{ type: 'user.email-reserved', data: { email, userId: other, reservedAt: at(5) } }]);
  });

  test('when its holder uses the address, then another user is refused', () => {
    spec
      .given([reserved])
      .when({
        type: 'ReserveEmail',
        email,
        userId: other,
        holderUsesIt: true,
        now: at(RESERVATION_GRACE_MS * 10),
      })
      .thenFails('email-taken');
  });

  test('when a fresh reservation is not used yet, then another user is still refused', () => {
    spec
      .given([reserved])
      .when({ type: 'ReserveEmail', email, userId: other, holderUsesIt: false, now: at(10) })
      .thenFails('email-taken');
  });

  test('when an old reservation was never used, then it is released and taken over', () => {
    const now = at(RESERVATION_GRACE_MS + 1);
    spec
      .given([reserved])
      .when({ type: 'ReserveEmail', email, userId: other, holderUsesIt: false, now })
      .then([
        { type: 'user.email-released', data: { email, userId: holder, releasedAt: now } },
        { type: 'user.email-reserved', data: { email, userId: other, reservedAt: now } },
      ]);
  });

  test('when the holder reserves again, then nothing happens', () => {
    spec
      .given([reserved])
      .when({ type: 'ReserveEmail', email, userId: holder, holderUsesIt: true, now: at(1) })
      .thenNothingHappens();
  });

  test('when the holder releases it, then another user may reserve it', () => {
    spec
      .given([
        reserved,
        { type: 'user.email-released', data: { email, userId: holder, releasedAt: at(1) } },
      ])
      .when({ type: 'ReserveEmail', email, userId: other, holderUsesIt: false, now: at(2) })
      .then([{ type: 'user.email-reserved', data: { email, userId: other, reservedAt: at(2) } }]);
  });

  test('when someone who does not hold it releases it, then nothing happens', () => {
    spec
      .given([reserved])
      .when({ type: 'ReleaseEmail', email, userId: other, now: at(1) })
      .thenNothingHappens();
  });
});

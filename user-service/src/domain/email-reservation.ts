import { type EventOf, type userEvents } from '@meetmatt/contracts';

/** The events of a `user-email-<hash>` stream: who holds the address, one at a time. */
export type EmailReservationEvent =
  EventOf<typeof userEvents.emailReserved> | EventOf<typeof userEvents.emailReleased>;

export type EmailReservationState =
  { status: 'free' } | { status: 'reserved'; email: string; userId: string; reservedAt: string };

export const initialEmailReservationState = (): EmailReservationState => ({ status: 'free' });

export function evolveEmailReservation(
  state: EmailReservationState,
  event: EmailReservationEvent,
): EmailReservationState {
  switch (event.type) {
    case 'user.email-reserved':
      return {
        status: 'reserved',
        email: event.data.email,
        userId: event.data.userId,
        reservedAt: event.data.reservedAt,
      };
    case 'user.email-released':
      return state.status === 'reserved' && state.userId === event.data.userId
        ? { status: 'free' }
        : state;
  }
}

/**
 * How long a reservation whose holder does not (yet) use the address is respected: the time a
 * registration or an email change takes between reserving and recording the user's event. After
 * that, a holder without the address is a registration that died half-way, and the address may
 * be taken over.
 */
export const RESERVATION_GRACE_MS = 60_000;

import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import {
  type EmailReservationEvent,
  type EmailReservationState,
  RESERVATION_GRACE_MS,
  evolveEmailReservation,
  initialEmailReservationState,
} from './email-reservation';

export type EmailReservationCommand =
  | {
      type: 'ReserveEmail';
      email: string;
      userId: string;
      /**
       * Whether the current holder has used this address on their profile, now or before
       * (fetched by the handler; false when the address is free or the holder never finished
       * registering). An address a user moved away from is still theirs while they hold its
       * reservation: an admin's old addresses are kept that way, never freed.
       */
      holderUsesIt: boolean;
      now: string;
    }
  | { type: 'ReleaseEmail'; email: string; userId: string; now: string };

type Result = EmailReservationEvent[] | DomainError;

function reserve(
  command: Extract<EmailReservationCommand, { type: 'ReserveEmail' }>,
  state: EmailReservationState,
): Result {
  const reserved = {
    type: 'user.email-reserved' as const,
    data: { email: command.email, userId: command.userId, reservedAt: command.now },
  };
  if (state.status === 'free') return [reserved];
  if (state.userId === command.userId) return [];
  const age = Date.parse(command.now) - Date.parse(state.reservedAt);
  if (command.holderUsesIt || age < RESERVATION_GRACE_MS)
    return domainError('email-taken', 'This email belongs to another account');
  return [
    {
      type: 'user.email-released',
      data: { email: state.email, userId: state.userId, releasedAt: command.now },
    },
    reserved,
  ];
}

function release(
  command: Extract<EmailReservationCommand, { type: 'ReleaseEmail' }>,
  state: EmailReservationState,
): Result {
  if (state.status !== 'reserved' || state.userId !== command.userId) return [];
  return [
    {
      type: 'user.email-released',
      data: { email: state.email, userId: command.userId, releasedAt: command.now },
    },
  ];
}

export function decideEmailReservation(
  command: EmailReservationCommand,
  state: EmailReservationState,
): Result {
  switch (command.type) {
    case 'ReserveEmail':
      return reserve(command, state);
    case 'ReleaseEmail':
      return release(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const emailReservationDecider: Decider<
  EmailReservationCommand,
  EmailReservationEvent,
  EmailReservationState
> = {
  initialState: initialEmailReservationState,
  evolve: evolveEmailReservation,
  decide: decideEmailReservation,
};

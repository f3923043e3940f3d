import { type Preferences, type Role } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError } from '@meetmatt/infra';
import { type UserEvent, type UserState, evolveUser, initialUserState } from './user';

export type UserCommand =
  | {
      type: 'Register';
      userId: string;
      /** Normalised, and already reserved for this user. */
      email: string;
      displayName: string;
      role: Role;
      now: string;
    }
  | {
      type: 'UpdateProfile';
      displayName?: string;
      /** Normalised, and already reserved for this user. */
      email?: string;
      now: string;
    }
  | { type: 'UpdatePreferences'; preferences: Preferences; now: string };

type Result = UserEvent[] | DomainError;

function register(command: Extract<UserCommand, { type: 'Register' }>, state: UserState): Result {
  if (state.status !== 'none') return domainError('user-exists', 'This user is already registered');
  return [
    {
      type: 'user.registered',
      data: {
        userId: command.userId,
        email: command.email,
        displayName: command.displayName,
        role: command.role,
        registeredAt: command.now,
      },
    },
  ];
}

function updateProfile(
  command: Extract<UserCommand, { type: 'UpdateProfile' }>,
  state: UserState,
): Result {
  if (state.status !== 'registered') return domainError('user-not-found', 'No such user');
  const displayName =
    command.displayName !== undefined && command.displayName !== state.displayName
      ? command.displayName
      : undefined;
  const email =
    command.email !== undefined && command.email !== state.email ? command.email : undefined;
  if (displayName === undefined && email === undefined) return [];
  return [
    {
      type: 'user.profile-updated',
      data: {
        userId: state.userId,
        ...(displayName !== undefined ? { displayName } : {}),
        ...(email !== undefined ? { email } : {}),
        updatedAt: command.now,
      },
    },
  ];
}

function updatePreferences(
  command: Extract<UserCommand, { type: 'UpdatePreferences' }>,
  state: UserState,
): Result {
  if (state.status !== 'registered') return domainError('user-not-found', 'No such user');
  if (samePreferences(state.preferences, command.preferences)) return [];
  return [
    {
      type: 'user.preferences-updated',
      data: { userId: state.userId, preferences: command.preferences, updatedAt: command.now },
    },
  ];
}

function samePreferences(a: Preferences, b: Preferences): boolean {
  const canonical = (p: Preferences) =>
    JSON.stringify({
      ...p,
      notificationChannels: [...new Set(p.notificationChannels)].sort(),
      notifyOn: {
        paymentConfirmed: p.notifyOn.paymentConfirmed,
        paymentFailed: p.notifyOn.paymentFailed,
        agentDeployed: p.notifyOn.agentDeployed,
        agentFailed: p.notifyOn.agentFailed,
      },
    });
  return canonical(a) === canonical(b);
}

export function decideUser(command: UserCommand, state: UserState): Result {
  switch (command.type) {
    case 'Register':
      return register(command, state);
    case 'UpdateProfile':
      return updateProfile(command, state);
    case 'UpdatePreferences':
      return updatePreferences(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const userDecider: Decider<UserCommand, UserEvent, UserState> = {
  initialState: initialUserState,
  evolve: evolveUser,
  decide: decideUser,
};

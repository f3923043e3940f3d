import { type BillingDetails, type Preferences, type Role } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import { type Credential, type RecentAuth, requireRecentPassword } from './credentials';
import { type UserEvent, type UserState, evolveUser, initialUserState } from './user';

export type UserCommand =
  | {
      type: 'Register';
      userId: string;
      /** Normalised, and already reserved for this user. */
      email: string;
      displayName: string;
      now: string;
    }
  | {
      type: 'UpdateProfile';
      displayName?: string;
      /** Normalised, and already reserved for this user. */
      email?: string;
      /** New billing details, or null to remove them; undefined leaves them as they are. */
      billing?: BillingDetails | null;
      /** Changing the email (the way into the account) needs a recent password. */
      auth: RecentAuth;
      now: string;
    }
  | {
      type: 'ChangePassword';
      /** A session that checked the current password just now (the handler did). */
      auth: RecentAuth;
      now: string;
    }
  | {
      type: 'ChangeRole';
      role: Role;
      /** Only an operator at the command line changes a role; nobody through the API. */
      credential: Credential;
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
        // Registering never makes an admin: that is an operator's act (ChangeRole).
        role: 'user',
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
  const billing =
    command.billing !== undefined && !sameBilling(command.billing, state.billing)
      ? { changed: command.billing }
      : undefined;
  if (email !== undefined) {
    const refused = requireRecentPassword(command.auth, command.now);
    if (refused) return refused;
  }
  const events: UserEvent[] = [];
  if (displayName !== undefined || email !== undefined)
    events.push({
      type: 'user.profile-updated',
      data: {
        userId: state.userId,
        ...(displayName !== undefined ? { displayName } : {}),
        ...(email !== undefined ? { email } : {}),
        updatedAt: command.now,
      },
    });
  // An event of its own: the payment service takes it from the bus without learning the email.
  if (billing)
    events.push({
      type: 'user.billing-details-changed',
      data: { userId: state.userId, billing: billing.changed, changedAt: command.now },
    });
  return events;
}

function sameBilling(a: BillingDetails | null, b: BillingDetails | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.name === b.name &&
    a.country === b.country &&
    a.taxId === b.taxId &&
    a.addressLines.length === b.addressLines.length &&
    a.addressLines.every((line, i) => line === b.addressLines[i])
  );
}

function changePassword(
  command: Extract<UserCommand, { type: 'ChangePassword' }>,
  state: UserState,
): Result {
  if (state.status !== 'registered') return domainError('user-not-found', 'No such user');
  const refused = requireRecentPassword(command.auth, command.now);
  if (refused) return refused;
  return [
    { type: 'user.password-changed', data: { userId: state.userId, changedAt: command.now } },
  ];
}

function changeRole(
  command: Extract<UserCommand, { type: 'ChangeRole' }>,
  state: UserState,
): Result {
  if (command.credential.kind !== 'operator')
    return domainError('operator-required', 'Only an operator changes a role (meetmatt users …)');
  if (state.status !== 'registered') return domainError('user-not-found', 'No such user');
  if (state.role === command.role) return [];
  return [
    {
      type: 'user.role-changed',
      data: {
        userId: state.userId,
        role: command.role,
        previousRole: state.role,
        operator: command.credential.operator,
        changedAt: command.now,
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
    case 'ChangePassword':
      return changePassword(command, state);
    case 'ChangeRole':
      return changeRole(command, state);
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

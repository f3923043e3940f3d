import {
  type BillingDetails,
  type EventOf,
  type Preferences,
  type Role,
  type userEvents,
} from '@meetmatt/contracts';

/** The events of a `user-<id>` stream. */
export type UserEvent =
  | EventOf<typeof userEvents.registered>
  | EventOf<typeof userEvents.profileUpdated>
  | EventOf<typeof userEvents.roleChanged>
  | EventOf<typeof userEvents.passwordChanged>
  | EventOf<typeof userEvents.preferencesUpdated>
  | EventOf<typeof userEvents.billingDetailsChanged>;

export type UserState =
  | { status: 'none' }
  | {
      status: 'registered';
      userId: string;
      email: string;
      displayName: string;
      role: Role;
      registeredAt: string;
      preferences: Preferences;
      /** Printed on invoices; null until the user gives them. */
      billing: BillingDetails | null;
    };

export const initialUserState = (): UserState => ({ status: 'none' });

export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'user.registered':
      return {
        status: 'registered',
        userId: event.data.userId,
        email: event.data.email,
        displayName: event.data.displayName,
        role: event.data.role,
        registeredAt: event.data.registeredAt,
        preferences: DEFAULT_PREFERENCES,
        billing: null,
      };
    case 'user.profile-updated':
      if (state.status !== 'registered') return state;
      return {
        ...state,
        ...(event.data.displayName !== undefined ? { displayName: event.data.displayName } : {}),
        ...(event.data.email !== undefined ? { email: event.data.email } : {}),
      };
    case 'user.role-changed':
      if (state.status !== 'registered') return state;
      return { ...state, role: event.data.role };
    case 'user.password-changed':
      return state;
    case 'user.preferences-updated':
      if (state.status !== 'registered') return state;
      return { ...state, preferences: event.data.preferences };
    case 'user.billing-details-changed':
      if (state.status !== 'registered') return state;
      return { ...state, billing: event.data.billing };
  }
}

/** What a new user starts with (a copy, so nobody mutates the contract's constant). */
export const DEFAULT_PREFERENCES: Preferences = {
  notificationChannels: ['in_app'],
  notifyOn: { paymentConfirmed: true, paymentFailed: true, agentDeployed: true, agentFailed: true },
  defaultPayCurrency: null,
  timeZone: 'UTC',
  locale: 'en',
};

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
  | EventOf<typeof userEvents.billingDetailsChanged>
  | EventOf<typeof userEvents.emailVerificationRequested>
  | EventOf<typeof userEvents.emailVerified>
  | EventOf<typeof userEvents.passwordResetRequested>
  | EventOf<typeof userEvents.passwordResetCompleted>;

/** A single-use token sent by mail: only its hash is known here. */
export interface TokenRequest {
  requestId: string;
  tokenHash: string;
  expiresAt: string;
  used: boolean;
  /** The address a verification was for (a reset has none). */
  email?: string;
}

/** Requests remembered per kind: older ones are void (a newer mail was asked for since). */
export const REMEMBERED_TOKENS = 10;

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
      /** The current email has been proven by a verification link. */
      emailVerified: boolean;
      verifications: TokenRequest[];
      resets: TokenRequest[];
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
        emailVerified: false,
        verifications: [],
        resets: [],
      };
    case 'user.profile-updated':
      if (state.status !== 'registered') return state;
      return {
        ...state,
        ...(event.data.displayName !== undefined ? { displayName: event.data.displayName } : {}),
        ...(event.data.email !== undefined && event.data.email !== state.email
          ? { email: event.data.email, emailVerified: false }
          : {}),
      };
    case 'user.role-changed':
      if (state.status !== 'registered') return state;
      return { ...state, role: event.data.role };
    case 'user.password-changed':
      // A reset link asked for before the new password must not override it.
      if (state.status !== 'registered') return state;
      return { ...state, resets: voidAll(state.resets) };
    case 'user.email-verification-requested': {
      if (state.status !== 'registered') return state;
      const { requestId, tokenHash, expiresAt, email } = event.data;
      const request = { requestId, tokenHash, expiresAt, email, used: false };
      return { ...state, verifications: remember(state.verifications, request) };
    }
    case 'user.email-verified':
      if (state.status !== 'registered') return state;
      return {
        ...state,
        emailVerified: state.emailVerified || event.data.email === state.email,
        verifications: markUsed(state.verifications, event.data.requestId),
      };
    case 'user.password-reset-requested': {
      if (state.status !== 'registered') return state;
      const { requestId, tokenHash, expiresAt } = event.data;
      const request = { requestId, tokenHash, expiresAt, used: false };
      return { ...state, resets: remember(state.resets, request) };
    }
    case 'user.password-reset-completed':
      // One reset ends them all: every other link mailed before is void.
      if (state.status !== 'registered') return state;
      return { ...state, resets: voidAll(state.resets) };
    case 'user.preferences-updated':
      if (state.status !== 'registered') return state;
      return { ...state, preferences: event.data.preferences };
    case 'user.billing-details-changed':
      if (state.status !== 'registered') return state;
      return { ...state, billing: event.data.billing };
  }
}

function remember(list: TokenRequest[], request: TokenRequest): TokenRequest[] {
  return [...list, request].slice(-REMEMBERED_TOKENS);
}

function markUsed(list: TokenRequest[], requestId: string): TokenRequest[] {
  return list.map((r) => (r.requestId === requestId ? { ...r, used: true } : r));
}

function voidAll(list: TokenRequest[]): TokenRequest[] {
  return list.map((r) => ({ ...r, used: true }));
}

/** What a new user starts with (a copy, so nobody mutates the contract's constant). */
export const DEFAULT_PREFERENCES: Preferences = {
  notificationChannels: ['in_app'],
  notifyOn: { paymentConfirmed: true, paymentFailed: true, agentDeployed: true, agentFailed: true },
  defaultPayCurrency: null,
  timeZone: 'UTC',
  locale: 'en',
};

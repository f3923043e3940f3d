import {
  type EventOf,
  type NotificationKind,
  type Preferences,
  type userEvents,
} from '@meetmatt/contracts';

/** The events of a `user-notification-<id>` stream. */
export type NotificationEvent =
  EventOf<typeof userEvents.notificationCreated> | EventOf<typeof userEvents.notificationRead>;

export type NotificationState =
  { status: 'none' } | { status: 'unread' | 'read'; notificationId: string; userId: string };

export const initialNotificationState = (): NotificationState => ({ status: 'none' });

export function evolveNotification(
  state: NotificationState,
  event: NotificationEvent,
): NotificationState {
  switch (event.type) {
    case 'user.notification-created':
      return {
        status: 'unread',
        notificationId: event.data.notificationId,
        userId: event.data.userId,
      };
    case 'user.notification-read':
      return state.status === 'none' ? state : { ...state, status: 'read' };
  }
}

/** Whether a user's preferences ask for in-app notifications of this kind. */
export function wantsNotification(preferences: Preferences, kind: NotificationKind): boolean {
  if (!preferences.notificationChannels.includes('in_app')) return false;
  switch (kind) {
    case 'payment.confirmed':
      return preferences.notifyOn.paymentConfirmed;
    case 'payment.failed':
    case 'payment.expired':
    case 'payment.partially-paid':
      return preferences.notifyOn.paymentFailed;
    case 'agent.deployed':
      return preferences.notifyOn.agentDeployed;
    case 'agent.deploy-failed':
      return preferences.notifyOn.agentFailed;
    default: {
      const unknown: never = kind;
      throw new Error(`unknown notification kind ${String(unknown)}`);
    }
  }
}

/** Whether the user wants this kind of news by mail: the `email` channel, and the kind turned on. */
export function wantsEmail(preferences: Preferences, kind: NotificationKind): boolean {
  if (!preferences.notificationChannels.includes('email')) return false;
  return wantsNotification({ ...preferences, notificationChannels: ['in_app'] }, kind);
}

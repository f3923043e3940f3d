import { type NotificationKind } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError } from '@meetmatt/infra/domain';
import {
  type NotificationEvent,
  type NotificationState,
  evolveNotification,
  initialNotificationState,
} from './notification';

export type NotificationCommand =
  | {
      type: 'CreateNotification';
      notificationId: string;
      userId: string;
      kind: NotificationKind;
      title: string;
      body: string;
      link: string | null;
      correlationId: string | null;
      sourceEventId: string;
      now: string;
    }
  | { type: 'MarkNotificationRead'; userId: string; now: string };

type Result = NotificationEvent[] | DomainError;

function create(
  command: Extract<NotificationCommand, { type: 'CreateNotification' }>,
  state: NotificationState,
): Result {
  // The id comes from the source event: a second delivery of it changes nothing.
  if (state.status !== 'none') return [];
  const { type: _type, now, ...data } = command;
  return [{ type: 'user.notification-created', data: { ...data, createdAt: now } }];
}

function markRead(
  command: Extract<NotificationCommand, { type: 'MarkNotificationRead' }>,
  state: NotificationState,
): Result {
  if (state.status === 'none' || state.userId !== command.userId)
    return domainError('notification-not-found', 'No such notification');
  if (state.status === 'read') return [];
  return [
    {
      type: 'user.notification-read',
      data: { notificationId: state.notificationId, userId: state.userId, readAt: command.now },
    },
  ];
}

export function decideNotification(command: NotificationCommand, state: NotificationState): Result {
  switch (command.type) {
    case 'CreateNotification':
      return create(command, state);
    case 'MarkNotificationRead':
      return markRead(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const notificationDecider: Decider<
  NotificationCommand,
  NotificationEvent,
  NotificationState
> = {
  initialState: initialNotificationState,
  evolve: evolveNotification,
  decide: decideNotification,
};

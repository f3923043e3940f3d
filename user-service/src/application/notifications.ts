import { notificationDecider } from '../domain/notification-decide';
import { streams } from '../domain/streams';
import { type Result } from './accounts';
import { runCommand } from './user-commands';
import { type UserDependencies } from './dependencies';

export async function markNotificationRead(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store' | 'waitForProjections'>,
  userId: string,
  notificationId: string,
): Promise<Result<void>> {
  const marked = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: notificationDecider,
    streamId: streams.notification(notificationId),
    userId,
    command: { type: 'MarkNotificationRead', userId, now: deps.now().toISOString() },
  });
  if (!marked.ok) return marked;
  await deps.waitForProjections(marked.position);
  return { ok: true, value: undefined };
}

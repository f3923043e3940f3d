import { notificationDecider } from '../domain/notification-decide';
import { streams } from '../domain/streams';
import { type Result } from './accounts';
import { runCommand } from './commands';
import { type UserContext } from './context';

export async function markNotificationRead(
  ctx: UserContext,
  userId: string,
  notificationId: string,
): Promise<Result<void>> {
  const marked = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
    decider: notificationDecider,
    streamId: streams.notification(notificationId),
    userId,
    command: { type: 'MarkNotificationRead', userId, now: ctx.now().toISOString() },
  });
  if (!marked.ok) return marked;
  await ctx.waitForProjections(marked.position);
  return { ok: true, value: undefined };
}

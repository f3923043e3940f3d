import { decodeJwt } from 'jose';
import { IdSchema, userEndpoints } from '@meetmatt/contracts';
import { HttpError, type Routes } from '@meetmatt/infra';
import { type UserContext } from '../application/context';
import { type NotificationHub, type NotificationView } from '../application/notification-hub';
import { notificationsAfter } from '../projections/notification-queries';
import { getUser } from '../projections/user-queries';
import { mayRead } from './problems';

/**
 * GET /users/:id/notifications/stream: Server-Sent Events. New notifications are pushed as
 * `event: notification` with the notification id as the event id (Last-Event-ID resumes after
 * it), a comment line keeps proxies from timing the stream out, and the stream ends when the
 * access token expires or its session is revoked (the client reconnects with a fresh token).
 */
export function notificationStreamRoute(
  routes: Routes,
  ctx: UserContext,
  hub: NotificationHub,
  heartbeatMs: number,
): void {
  routes.add(userEndpoints.notificationStream, async ({ params, principal, req, res }) => {
    mayRead(principal, params.id);
    if (!(await getUser(ctx.db, params.id))) throw HttpError.notFound('No such user');
    const expiresAtMs = (decodeJwt(principal.token).exp ?? 0) * 1000;

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: 3000\n: connected\n\n`);

    const sent = new Set<string>();
    const send = (notification: NotificationView) => {
      if (sent.has(notification.id)) return;
      if (sent.size > 1_000) sent.clear();
      sent.add(notification.id);
      res.write(
        `id: ${notification.id}\nevent: notification\ndata: ${JSON.stringify(notification)}\n\n`,
      );
    };

    let closed = false;
    const unsubscribe = hub.subscribe(params.id, send, () => end());
    const heartbeat = setInterval(() => {
      if (ctx.revocations.has(principal.sessionId)) return end();
      res.write(': heartbeat\n\n');
    }, heartbeatMs);
    const expiry = setTimeout(() => end(), Math.max(0, expiresAtMs - Date.now()));
    const unregister = hub.onClose(() => end());
    const cleanup = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      unregister();
      clearInterval(heartbeat);
      clearTimeout(expiry);
    };
    const end = () => {
      cleanup();
      res.end();
    };
    req.on('close', cleanup);
    res.on('error', cleanup);

    const lastEventId = IdSchema.safeParse(req.get('last-event-id'));
    if (lastEventId.success) {
      for (const missed of await notificationsAfter(ctx.db, params.id, lastEventId.data)) {
        if (closed) break;
        send(missed);
      }
    }
    return undefined;
  });
}

import { decodeJwt } from 'jose';
import { userEndpoints } from '@meetmatt/contracts';
import { HttpError, type Routes } from '@meetmatt/infra';
import { type UserDependencies } from '../application/dependencies';
import { type NotificationHub } from '../application/notification-hub';
import { getUser } from '../projections/user-queries';
import { serveNotificationStream } from './notification-sse';
import { mayRead } from './problems';

/**
 * GET /users/:id/notifications/stream: Server-Sent Events. New notifications are pushed as
 * `event: notification` with the notification id as the event id (Last-Event-ID resumes after
 * it), a comment line keeps proxies from timing the stream out, and the stream ends when the
 * access token expires or its session (or API key) is revoked (the client reconnects with a fresh
 * token). The streaming itself is notification-sse.ts, shared with the ticket route.
 */
export function notificationStreamRoute(
  routes: Routes,
  deps: Pick<UserDependencies, 'db' | 'revocations'>,
  hub: NotificationHub,
  heartbeatMs: number,
): void {
  routes.add(userEndpoints.notificationStream, async ({ params, principal, req, res }) => {
    mayRead(principal, params.id);
    if (!(await getUser(deps.db, params.id))) throw HttpError.notFound('No such user');
    const expiresAtMs = (decodeJwt(principal.token).exp ?? 0) * 1000;

    await serveNotificationStream(
      deps,
      hub,
      heartbeatMs,
      {
        userId: params.id,
        sessionId: principal.sessionId,
        apiKeyId: principal.apiKeyId ?? null,
        expiresAtMs,
      },
      req,
      res,
    );
    return undefined;
  });
}

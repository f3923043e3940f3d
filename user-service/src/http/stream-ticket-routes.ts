import { decodeJwt } from 'jose';
import { userEndpoints } from '@meetmatt/contracts';
import { HttpError, type Routes } from '@meetmatt/infra';
import { type UserDependencies } from '../application/dependencies';
import { type NotificationHub } from '../application/notification-hub';
import { StreamTickets } from '../application/stream-tickets';
import { serveNotificationStream } from './notification-sse';

export interface StreamTicketOptions {
  heartbeatMs: number;
  ticketTtlMs: number;
}

/**
 * POST /notifications/stream-ticket (authenticated) and GET /notifications/stream?ticket=
 * (the ticket is the credential): the notification stream for EventSource, which cannot send
 * Authorization. The ticket is in the query, so it must never be logged: the request log writes
 * the path without the query, and so does the gateway's access log.
 */
export function streamTicketRoutes(
  routes: Routes,
  deps: Pick<UserDependencies, 'db' | 'now' | 'revocations'>,
  hub: NotificationHub,
  options: StreamTicketOptions,
): StreamTickets {
  const tickets = new StreamTickets(deps.db, options.ticketTtlMs, () => deps.now());

  routes.add(userEndpoints.createStreamTicket, async ({ principal }) => {
    if (!principal) throw HttpError.unauthorized();
    const accessExpiresAt = new Date((decodeJwt(principal.token).exp ?? 0) * 1000);
    const { ticket, expiresAt } = await tickets.issue(principal, accessExpiresAt);
    return {
      status: 201,
      body: {
        ticket,
        expiresAt: expiresAt.toISOString(),
        url: `/notifications/stream?ticket=${ticket}`,
      },
      headers: { 'Cache-Control': 'no-store' },
    };
  });

  routes.add(userEndpoints.ticketNotificationStream, async ({ query, principal, req, res }) => {
    const holder = await tickets.redeem(query.ticket);
    const refused = 'The stream ticket is unknown, used or expired: ask for a new one';
    if (!holder) throw HttpError.unauthorized(refused);
    // Spent either way: a ticket that reached someone else is no use to them a second time.
    if (principal && principal.userId !== holder.userId)
      throw HttpError.forbidden('This stream ticket was issued to another user');
    const revoked =
      deps.revocations.has(holder.sessionId) ||
      (holder.apiKeyId !== null && deps.revocations.has(holder.apiKeyId));
    if (revoked || holder.accessExpiresAt.getTime() <= deps.now().getTime())
      throw HttpError.unauthorized(refused);
    // For the request log's userId (the ticket itself is never logged).
    res.locals.principal = { userId: holder.userId };
    await serveNotificationStream(
      deps,
      hub,
      options.heartbeatMs,
      {
        userId: holder.userId,
        sessionId: holder.sessionId,
        apiKeyId: holder.apiKeyId,
        expiresAtMs: holder.accessExpiresAt.getTime(),
      },
      req,
      res,
    );
    return undefined;
  });

  return tickets;
}

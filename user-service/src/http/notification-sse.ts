import { type Request, type Response } from 'express';
import { IdSchema } from '@meetmatt/contracts';
import { type UserDependencies } from '../application/dependencies';
import { type NotificationHub, type NotificationView } from '../application/notification-hub';
import { notificationsAfter } from '../projections/notification-queries';

export interface StreamOwner {
  userId: string;
  /** The session (or API key) whose revocation ends the stream. */
  sessionId: string;
  apiKeyId?: string | null;
  /** When the credential that opened the stream expires: the stream ends then. */
  expiresAtMs: number;
}

/**
 * Serves one user's notifications as Server-Sent Events on `res`: `event: notification` with the
 * notification id as the event id (Last-Event-ID replays what came after it), a heartbeat
 * comment, and an end when the credential expires, its session or key is revoked, the hub
 * evicts the stream (the per-user cap) or the service shuts down.
 */
export async function serveNotificationStream(
  deps: Pick<UserDependencies, 'db' | 'revocations'>,
  hub: NotificationHub,
  heartbeatMs: number,
  owner: StreamOwner,
  req: Request,
  res: Response,
): Promise<void> {
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
  const revoked = () =>
    deps.revocations.has(owner.sessionId) ||
    (owner.apiKeyId ? deps.revocations.has(owner.apiKeyId) : false);

  let closed = false;
  const unsubscribe = hub.subscribe(owner.userId, send, () => end());
  const heartbeat = setInterval(() => {
    if (revoked()) return end();
    res.write(': heartbeat\n\n');
  }, heartbeatMs);
  const expiry = setTimeout(() => end(), Math.max(0, owner.expiresAtMs - Date.now()));
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
    for (const missed of await notificationsAfter(deps.db, owner.userId, lastEventId.data)) {
      if (closed) break;
      send(missed);
    }
  }
}

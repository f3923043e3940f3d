import { z } from 'zod';
import { TimestampSchema } from '../common';
import { type EndpointDef, defineEndpoint, problems } from '../http';

/** A stream ticket as issued: `st_` and 43 base64url characters (32 random bytes). */
export const StreamTicketSchema = z
  .string()
  .regex(/^st_[A-Za-z0-9_-]{43}$/, 'expected a ticket from POST /notifications/stream-ticket')
  .describe('A single-use stream ticket from POST /notifications/stream-ticket');

export const StreamTicketIssuedSchema = z
  .object({
    ticket: StreamTicketSchema,
    expiresAt: TimestampSchema.describe('Unused by then, the ticket is refused (60 s after issue)'),
    url: z
      .string()
      .describe(
        'The stream to open with it: /notifications/stream?ticket=…, for new EventSource()',
      ),
  })
  .meta({ id: 'StreamTicketIssued' });
export type StreamTicketIssued = z.infer<typeof StreamTicketIssuedSchema>;

const tags = ['users'];

/**
 * EventSource cannot send Authorization: a browser first asks for a short-lived, single-use
 * ticket with its token, then opens the stream with the ticket in the query.
 */
export const streamTicketEndpoints = {
  createStreamTicket: defineEndpoint({
    operationId: 'createStreamTicket',
    method: 'post',
    path: '/notifications/stream-ticket',
    summary: 'A single-use ticket (60 s) to open your notification stream from a browser',
    description:
      'For EventSource, which cannot send Authorization. The ticket opens one stream of the caller’s notifications, once; the stream ends when the access token that asked for it would have expired, or its session is revoked. Ask for a new ticket to reconnect (EventSource’s own retry reuses the URL and is refused).',
    tags,
    auth: 'user',
    responses: {
      201: { description: 'The ticket', schema: StreamTicketIssuedSchema },
      401: problems[401],
      429: problems[429],
    },
  }),
  ticketNotificationStream: defineEndpoint({
    operationId: 'ticketNotificationStream',
    method: 'get',
    path: '/notifications/stream',
    summary: 'Server-Sent Events of the ticket holder’s notifications (for EventSource)',
    description:
      'The ticket is the credential (no Authorization needed) and is spent on first use. Same events, Last-Event-ID and per-user stream cap as GET /users/{id}/notifications/stream. A request that also carries another user’s token is refused (403).',
    tags,
    auth: 'none',
    query: z.object({ ticket: StreamTicketSchema }),
    headers: { 'Last-Event-ID': 'The id of the last notification received, to resume after it' },
    responses: {
      200: {
        description:
          'text/event-stream: event "notification" with a Notification as data and its id as the event id; a ": heartbeat" comment periodically.',
        contentType: 'text/event-stream',
      },
      400: problems[400],
      401: problems[401],
      403: problems[403],
      429: problems[429],
    },
  }),
} satisfies Record<string, EndpointDef>;

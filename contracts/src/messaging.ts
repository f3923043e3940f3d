import { z } from 'zod';
import { services } from './services';

/** Durable topic exchanges, one per publishing service. The routing key is the event type. */
export const exchanges = {
  payment: services.payment.exchange,
  user: services.user.exchange,
  brain: services.brain.exchange,
} as const;

/**
 * Consumer queues: `<consuming service>.<purpose>`. Each has retry queues and a parking queue
 * (`<queue>.dlq`) derived from its name by the bus.
 */
export const queues = {
  brainPaymentEvents: 'brain-service.payment-events',
  userPaymentEvents: 'user-service.payment-events',
  userAgentEvents: 'user-service.agent-events',
  paymentAgentEvents: 'payment-service.agent-events',
  /** Buyers' billing details, printed on the invoices issued from then on. */
  paymentUserEvents: 'payment-service.user-events',
  /** Buyers' addresses and mail preferences, for the receipts payment-service mails. */
  paymentMailRecipients: 'payment-service.mail-recipients',
  /** Session and API-key revocations, so each service refuses their tokens itself. */
  paymentRevocations: 'payment-service.user-revocations',
  brainRevocations: 'brain-service.user-revocations',
} as const;

/** The delays a failed message waits before its next attempt; after the last it is parked. */
export const retryDelaysMs = [1_000, 10_000, 60_000, 600_000] as const;

/** Suffixes of the derived queues. */
export const queueSuffix = {
  retry: (delayMs: number) => `.retry.${delayMs}ms`,
  dlq: '.dlq',
} as const;

/** The queue a failed message waits in for `delayMs` before it returns to `queue`. */
export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}${queueSuffix.retry(delayMs)}`;
}

/** The parking queue of `queue`: messages that will not be retried wait there for an operator. */
export function parkingQueueName(queue: string): string {
  return `${queue}${queueSuffix.dlq}`;
}

/** Headers the bus writes on messages it retries or parks. */
export const busHeaders = {
  /** How many times the handler has failed on this message. */
  attempts: 'x-mm-attempts',
  /** The last handler error, or what was wrong with a malformed message. */
  error: 'x-mm-error',
  /** One of `parkedReasons`. */
  parkedReason: 'x-mm-parked-reason',
  originalRoutingKey: 'x-mm-original-routing-key',
  originalExchange: 'x-mm-original-exchange',
  parkedAt: 'x-mm-parked-at',
  /** The consumer queue the message was parked from. */
  parkedFrom: 'x-mm-parked-from',
} as const;

/**
 * Why a message sits in a parking queue: it failed its schema (`malformed`), its handler said it
 * can never succeed (`rejected`), or every retry failed (`exhausted`).
 */
export const parkedReasons = ['malformed', 'rejected', 'exhausted'] as const;
export type ParkedReason = (typeof parkedReasons)[number];

/** The CloudEvents 1.0 envelope (structured JSON mode) every message on the bus uses. */
export const CloudEventSchema = z
  .object({
    specversion: z.literal('1.0').describe('CloudEvents version'),
    id: z
      .string()
      .min(1)
      .describe('The event id; also the AMQP message id, so consumers can deduplicate'),
    source: z.string().min(1).describe('The publishing service, e.g. payment-service'),
    type: z
      .string()
      .min(1)
      .describe('The event type, e.g. payment.confirmed; also the routing key'),
    subject: z.string().min(1).describe('The stream the event belongs to, e.g. payment-<id>'),
    time: z.string().describe('When the event was recorded (RFC 3339)'),
    datacontenttype: z.literal('application/json').optional().describe('The media type of data'),
    dataschemaversion: z.number().int().positive().optional().describe('Schema version of data'),
    correlationid: z.string().optional().describe('The id shared by every event of one journey'),
    causationid: z
      .string()
      .optional()
      .describe('The id of the message or request that caused this event'),
    userid: z.string().optional().describe('The user the event concerns, when known'),
    traceparent: z
      .string()
      .optional()
      .describe(
        'W3C Trace Context of the work that recorded the event (CloudEvents distributed tracing extension)',
      ),
    tracestate: z
      .string()
      .optional()
      .describe('W3C vendor trace state that goes with traceparent, when there is one'),
    data: z.unknown().describe('The event payload, as defined by its type'),
  })
  .meta({ id: 'CloudEvent' });
export type CloudEvent = z.infer<typeof CloudEventSchema>;

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

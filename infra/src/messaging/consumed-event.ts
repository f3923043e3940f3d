import { type ConsumeMessage } from 'amqplib';
import { busHeaders } from '@meetmatt/contracts';
import { type DomainEvent } from '../domain';
import { type EventCatalog } from '../event-store/event-catalog';
import { type EventMetadata } from '../event-store/types';
import { traceFieldsOf } from '../tracing/propagation';
import { decodeEnvelope } from './cloud-event';

/** What a handler knows about a message beyond its event. */
export interface MessageEnvelope {
  /** The event id, also the message id: the key for idempotency. */
  id: string;
  /** The publishing service. */
  source: string;
  /** The stream the event belongs to. */
  subject: string;
  time: string;
  correlationId: string;
  causationId?: string;
  userId?: string;
  /** How many times a handler has already failed on this message (0 on the first try). */
  attempts: number;
  /** The broker delivered it before (a lost ack, a crashed consumer). */
  redelivered: boolean;
  /** W3C trace context of the work that recorded the event (the CloudEvents tracing extension). */
  traceparent?: string;
  tracestate?: string;
}

/** A consumed event: its type and current-version data, with the envelope; narrow on `type`. */
export type ConsumedEvent<E extends DomainEvent = DomainEvent> = E extends DomainEvent
  ? E & MessageEnvelope
  : never;

export type ParsedDelivery =
  { ok: true; event: ConsumedEvent } | { ok: false; reason: string; attempts: number };

/** How many failed attempts the bus has recorded on a message. */
export function attemptsOf(message: ConsumeMessage): number {
  const value: unknown = message.properties.headers?.[busHeaders.attempts];
  const attempts = typeof value === 'number' ? value : Number(value ?? 0);
  return Number.isInteger(attempts) && attempts >= 0 ? attempts : 0;
}

/**
 * The envelope first, then the data against the schema of its type, upcast from the version it
 * was written with (`dataschemaversion`). Anything that does not fit is a reason to park.
 */
export function parseDelivery(message: ConsumeMessage, catalog: EventCatalog): ParsedDelivery {
  const attempts = attemptsOf(message);
  const decoded = decodeEnvelope(message.content);
  if (!decoded.ok) return { ok: false, reason: decoded.reason, attempts };
  const envelope = decoded.event;
  if (!catalog.has(envelope.type)) {
    return { ok: false, reason: `no handler for event type ${envelope.type}`, attempts };
  }
  let data: unknown;
  try {
    data = catalog.upcast({
      type: envelope.type,
      data: envelope.data,
      metadata: { schemaVersion: envelope.dataschemaversion ?? 1 } as EventMetadata,
    });
  } catch (error) {
    return { ok: false, reason: (error as Error).message, attempts };
  }
  const event = {
    type: envelope.type,
    data,
    id: envelope.id,
    source: envelope.source,
    subject: envelope.subject,
    time: envelope.time,
    correlationId: envelope.correlationid ?? envelope.id,
    ...(envelope.causationid ? { causationId: envelope.causationid } : {}),
    ...(envelope.userid ? { userId: envelope.userid } : {}),
    ...traceFieldsOf(envelope),
    attempts,
    redelivered: message.fields.redelivered,
  } as ConsumedEvent;
  return { ok: true, event };
}

import { type Options } from 'amqplib';
import { CLOUDEVENTS_CONTENT_TYPE, type CloudEvent, CloudEventSchema } from '@meetmatt/contracts';
import { type RecordedEvent } from '../event-store/types';
import { traceFieldsOf } from '../tracing/propagation';

/** A stored event as the CloudEvents 1.0 envelope it travels in. */
export function toCloudEvent(event: RecordedEvent, source: string): CloudEvent {
  const { metadata } = event;
  return {
    specversion: '1.0',
    id: event.id,
    source,
    type: event.type,
    subject: event.streamId,
    time: event.createdAt.toISOString(),
    datacontenttype: 'application/json',
    dataschemaversion: metadata.schemaVersion,
    correlationid: metadata.correlationId,
    causationid: metadata.causationId,
    ...(metadata.userId ? { userid: metadata.userId } : {}),
    // The distributed tracing extension: the trace of the work that appended the event.
    ...traceFieldsOf(metadata),
    data: event.data,
  };
}

/** One AMQP message ready to publish: routing key, body and properties. */
export interface OutgoingMessage {
  routingKey: string;
  content: Buffer;
  options: Options.Publish & { messageId: string };
}

/**
 * Structured mode: the whole envelope is the body. The message id is the event id, so a consumer
 * recognises a redelivered or republished event; the AMQP type, correlation id and timestamp
 * repeat the envelope for the management UI and tools that do not read bodies, and so do the
 * `traceparent`/`tracestate` headers for tracers that read AMQP headers.
 */
export function toMessage(event: CloudEvent): OutgoingMessage {
  return {
    routingKey: event.type,
    content: Buffer.from(JSON.stringify(event)),
    options: {
      messageId: event.id,
      contentType: CLOUDEVENTS_CONTENT_TYPE,
      persistent: true,
      type: event.type,
      appId: event.source,
      timestamp: Math.floor(Date.parse(event.time) / 1000),
      ...(event.correlationid ? { correlationId: event.correlationid } : {}),
      // Repeated for AMQP tooling: the instrumentation of amqplib continues the trace from here.
      ...(event.traceparent ? { headers: traceFieldsOf(event) } : {}),
    },
  };
}

export type DecodedEnvelope = { ok: true; event: CloudEvent } | { ok: false; reason: string };

/** Parses a message body as a CloudEvent envelope; the reason says what is wrong when it is not. */
export function decodeEnvelope(content: Buffer): DecodedEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `body is not JSON: ${(error as Error).message}` };
  }
  const parsed = CloudEventSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    return { ok: false, reason: `not a CloudEvent: ${issues}` };
  }
  return { ok: true, event: parsed.data };
}

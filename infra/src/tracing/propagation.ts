import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
} from '@opentelemetry/api';

/**
 * The W3C trace context of a unit of work, as event metadata and the CloudEvents distributed
 * tracing extension carry it (`traceparent`, `tracestate`).
 */
export interface TraceFields {
  traceparent?: string;
  tracestate?: string;
}

const NONE: TraceFields = Object.freeze({});

/** Set by `startTracing`: with tracing off, every helper here returns at once. */
let enabled = false;
let stopTracing: (() => Promise<void>) | undefined;

/** Called by `startTracing` with how to flush and stop what it started. */
export function setTracingEnabled(shutdown: (() => Promise<void>) | undefined): void {
  enabled = shutdown !== undefined;
  stopTracing = shutdown;
}

export function tracingEnabled(): boolean {
  return enabled;
}

/** Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Sends the spans still batched and stops tracing; a no-op when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  const stop = stopTracing;
  setTracingEnabled(undefined);
  await stop?.();
}

/** The active span's trace context, to store with what this unit of work appends; {} when none. */
export function activeTraceFields(): TraceFields {
  if (!enabled) return NONE;
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !trace.isSpanContextValid(span)) return NONE;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return traceFieldsOf(carrier);
}

/** The trace fields of a record (event metadata, AMQP headers), when they are strings. */
export function traceFieldsOf(source: Readonly<Record<string, unknown>> | undefined): TraceFields {
  if (!source || typeof source.traceparent !== 'string') return NONE;
  return {
    traceparent: source.traceparent,
    ...(typeof source.tracestate === 'string' && source.tracestate !== ''
      ? { tracestate: source.tracestate }
      : {}),
  };
}

/** The remote context that trace fields name; undefined when they name none (or are malformed). */
export function contextOf(fields: TraceFields | undefined): Context | undefined {
  if (!fields?.traceparent) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, fields);
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** Runs `fn` inside the trace the fields name (a stored event's), so what it does joins that trace. */
export function withTraceOf<T>(fields: TraceFields | undefined, fn: () => T): T {
  if (!enabled) return fn();
  const remote = contextOf(fields);
  return remote ? context.with(remote, fn) : fn();
}

/** The active span's ids, for log lines; undefined when no span is active. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!enabled) return undefined;
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !trace.isSpanContextValid(span)) return undefined;
  return { trace_id: span.traceId, span_id: span.spanId };
}

/** The trace id that trace fields name, or undefined. */
export function traceIdOf(fields: TraceFields | undefined): string | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(
    fields?.traceparent ?? '',
  );
  return match?.[1];
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The span's parent instead of the active context (a consumed message's producer). */
  parent?: Context;
}

/**
 * Runs `work` in a new active span that ends when it settles (an error marks it failed).
 * With tracing off it only runs `work`.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: () => Promise<T>,
): Promise<T> {
  if (!enabled) return work();
  const tracer = trace.getTracer('meetmatt');
  return tracer.startActiveSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await work();
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * The parent of a consumed message's span: the producer's context from the envelope, or the
 * active one when it already continues that trace (the amqplib instrumentation's consume span,
 * which followed the AMQP headers) so the spans nest.
 */
export function consumerParent(fields: TraceFields | undefined): Context {
  const active = context.active();
  const remote = contextOf(fields);
  if (!remote) return active;
  const activeTrace = trace.getSpanContext(active)?.traceId;
  return activeTrace === trace.getSpanContext(remote)?.traceId ? active : remote;
}

export { SpanKind };

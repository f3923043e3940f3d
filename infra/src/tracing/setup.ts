/* eslint-disable no-console -- runs before any logger exists, at the first import of a service */
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { setTracingEnabled, tracingRequested } from './propagation';

export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME says otherwise. */
  service: string;
  env?: NodeJS.ProcessEnv;
}

/** Probes and scrapes: no trace of their own. */
const UNTRACED_PATHS = /^\/(healthz|readyz|livez|metrics)(\/|\?|$)/;

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

let provider: NodeTracerProvider | undefined;

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured, and does nothing otherwise
 * (no provider, no patched modules: the helpers in ./propagation return at once). Must run
 * before http, express, pg and amqplib are first required, so their instrumentations can patch
 * them: services call it from the first import of their main.ts (`@meetmatt/infra/tracing/register`).
 * The exporter, batching and sampling follow the standard OTEL_* variables.
 */
export function startTracing(options: TracingOptions): boolean {
  const env = options.env ?? process.env;
  if (provider || !tracingRequested(env)) return provider !== undefined;
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw new Error(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(protocol)}`,
    );
  const exporter = protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtobufExporter();
  const running = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // AsyncLocalStorage context and the W3C trace-context propagator.
  running.register();
  provider = running;
  registerInstrumentations({
    tracerProvider: running,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
        // A background call with no trace (a JWKS refresh) is not worth a trace of its own.
        requireParentforOutgoingSpans: true,
      }),
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new PgInstrumentation({ requireParentSpan: true }),
      new AmqplibInstrumentation(),
      new UndiciInstrumentation({ requireParentforSpans: true }),
    ],
  });
  setTracingEnabled(async () => {
    provider = undefined;
    try {
      await running.shutdown();
    } catch (error) {
      console.error(`tracing: spans not exported at shutdown: ${(error as Error).message}`);
    }
  });
  return true;
}

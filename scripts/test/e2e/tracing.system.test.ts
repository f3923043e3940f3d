import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { services } from '@meetmatt/contracts';
import { eventually } from '@meetmatt/infra/testing';
import { type JourneyResult, runJourney } from '../../src/lib/gateway-journey';
import { type TestSystem, startSystem } from '../support/spawned-system';

/**
 * One trace from the IPN to the deployed agent, with the whole system running (three services,
 * PostgreSQL, RabbitMQ, nginx and both sandboxes) and every service exporting its spans over
 * OTLP/HTTP (JSON) to a collector in this process.
 */

interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? [])
    out[key] = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
  return out;
}

/** A minimal OTLP/HTTP trace receiver (JSON encoding): keeps every span it is sent. */
async function startCollector(): Promise<{
  url: string;
  spans: CollectedSpan[];
  requests: () => number;
  close(): Promise<void>;
}> {
  const spans: CollectedSpan[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      requests += 1;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? [])
            spans.push({
              service,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const traceIdOf = (traceparent: string | undefined) => traceparent?.split('-')[1];

describe('tracing, end to end', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let system: TestSystem;
  let journey: JourneyResult;

  beforeAll(async () => {
    collector = await startCollector();
    system = await startSystem({
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Batches leave every 200 ms, so the test waits on spans, not on the default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      // Request lines are written at info: the log test looks for their trace ids.
      LOG_LEVEL: 'info',
    });
    journey = await runJourney({ baseUrl: system.gatewayUrl, timeoutMs: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
    await collector?.close();
  }, 30_000);

  test('when a paid IPN leads to a deployed agent, then one trace holds spans of all three services from the IPN to the deployed agent', async () => {
    const [confirmed] = await system.query<{ traceparent: string | null }>(
      'payment',
      `SELECT metadata->>'traceparent' AS traceparent FROM es_events
       WHERE stream_id = $1 AND event_type = 'payment.confirmed'`,
      [`payment-${journey.paymentId}`],
    );
    const traceId = traceIdOf(confirmed?.traceparent ?? undefined);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // The agent's events, written later by the build tracker, carry the same trace.
    const agentEvents = await system.query<{ type: string; traceparent: string | null }>(
      'brain',
      `SELECT event_type AS type, metadata->>'traceparent' AS traceparent FROM es_events
       WHERE stream_id = $1 ORDER BY global_position`,
      [`agent-${journey.agentId}`],
    );
    const deployTraces = agentEvents
      .filter((e) =>
        ['agent.deploy-requested', 'agent.session-started', 'agent.deployed'].includes(e.type),
      )
      .map((e) => [e.type, traceIdOf(e.traceparent ?? undefined)]);
    expect(deployTraces).toEqual(
      expect.arrayContaining([
        ['agent.deploy-requested', traceId],
        ['agent.session-started', traceId],
        ['agent.deployed', traceId],
      ]),
    );

    const names = {
      payment: services.payment.name,
      user: services.user.name,
      brain: services.brain.name,
    };
    const inTrace = () => collector.spans.filter((s) => s.traceId === traceId);
    const has = (predicate: (span: CollectedSpan) => boolean) => inTrace().some(predicate);
    // The user service's notification of the deployed agent is the last thing in the trace.
    await eventually(
      'the spans of the journey',
      () =>
        has((s) => s.service === names.user && s.name === 'process agent.deployed') &&
        has((s) => s.service === names.brain && s.name === 'process payment.confirmed'),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));

    // It starts at the IPN: the payment service's server span for the webhook, with no parent.
    const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
    expect(roots).toHaveLength(1);
    const ipn = roots[0]!;
    expect([ipn.service, ipn.kind]).toEqual([names.payment, SERVER]);
    expect(String(ipn.attributes['http.target'] ?? ipn.attributes['url.path'])).toMatch(
      /^\/webhooks\/nowpayments/,
    );

    // Every service took part, and each hop is there: the append in PostgreSQL, the relay's
    // publish, the brain consuming payment.confirmed, its HTTP calls to Devin, its publish of
    // agent.deployed, and the user service consuming it.
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set([names.payment, names.brain, names.user]),
    );
    const one = (what: string, predicate: (span: CollectedSpan) => boolean) => {
      const found = spans.find(predicate);
      if (!found)
        throw new Error(
          `no span for ${what} in trace ${traceId}:\n${spans
            .map((s) => `${s.service} ${s.kind} ${s.name} ${JSON.stringify(s.attributes)}`)
            .join('\n')}`,
        );
      return found;
    };
    one(
      'the payment service writing the event',
      (s) =>
        s.service === names.payment &&
        (s.attributes['db.system.name'] ?? s.attributes['db.system']) === 'postgresql',
    );
    one('the payment relay publishing', (s) => s.service === names.payment && s.kind === PRODUCER);
    const consumed = one(
      'the brain consuming payment.confirmed',
      (s) =>
        s.service === names.brain && s.kind === CONSUMER && s.name === 'process payment.confirmed',
    );
    one(
      'the Devin session being created',
      (s) =>
        s.service === names.brain &&
        s.kind === CLIENT &&
        String(s.attributes['url.full'] ?? s.attributes['http.url']).includes('/sessions'),
    );
    one('the brain relay publishing', (s) => s.service === names.brain && s.kind === PRODUCER);
    const notified = one(
      'the user service consuming agent.deployed',
      (s) => s.service === names.user && s.name === 'process agent.deployed',
    );

    // The hops are linked parent to child, all the way back to the IPN.
    const ancestry = (span: CollectedSpan) => {
      const chain: CollectedSpan[] = [];
      for (let s: CollectedSpan | undefined = span; s; s = byId.get(s.parentSpanId)) chain.push(s);
      return chain;
    };
    expect(ancestry(consumed).at(-1)).toBe(ipn);
    expect(ancestry(notified).at(-1)).toBe(ipn);
    expect(ancestry(notified).map((s) => s.service)).toEqual(
      expect.arrayContaining([names.user, names.brain, names.payment]),
    );
  });

  test('when traced, then the services’ log lines carry the trace and span ids', () => {
    const traced = system
      .output()
      .split('\n')
      .filter(
        (line) => /"trace_id":"[0-9a-f]{32}"/.test(line) && /"span_id":"[0-9a-f]{16}"/.test(line),
      );
    expect(collector.requests()).toBeGreaterThan(0);
    expect(traced.length).toBeGreaterThan(0);
  });
});

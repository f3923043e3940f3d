import { randomUUID } from 'node:crypto';
import { agentEvents, paymentEvents, userEvents } from '@meetmatt/contracts';
import { type NewEvent, type RecordedEvent } from '@meetmatt/infra';
import { agentIdFor } from '@meetmatt/brain-service/domain/agent-identity';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';

// Every command is a process of its own (node and the bundled services' code load each time): on a
// busy machine a handful of them outlast jest's default 30 s.
jest.setTimeout(120_000);

let fixture: CliFixture;

const paymentId = randomUUID();
const agentId = agentIdFor(paymentId);
const userId = randomUUID();
const requestCorrelation = randomUUID();
const ipnCorrelation = randomUUID();
/** The OpenTelemetry trace the IPN started: every event from it to the deployed agent carries it. */
const traceId = randomUUID().replaceAll('-', '');
const traced = (event: NewEvent): NewEvent => ({
  ...event,
  metadata: {
    ...event.metadata,
    traceparent: `00-${traceId}-${randomUUID().replaceAll('-', '').slice(0, 16)}-01`,
  },
});
/** The journey's events, in the order they were written. */
const journey: { service: string; event: RecordedEvent }[] = [];

/** Appends one event and remembers it as part of the journey (or not). */
async function write(
  service: 'payment' | 'user' | 'brain',
  streamId: string,
  event: NewEvent,
  partOfJourney = true,
): Promise<RecordedEvent> {
  const events = await appendAll(fixture.services[service].store, streamId, [event]);
  const recorded = events[events.length - 1]!;
  if (partOfJourney) journey.push({ service, event: recorded });
  return recorded;
}

beforeAll(async () => {
  fixture = await createCliFixture('cli_trace');
  const payment = `payment-${paymentId}`;
  const agent = `agent-${agentId}`;
  // A payment created by one request, confirmed by an IPN (another correlation id) …
  await write(
    'payment',
    payment,
    newEvent(
      paymentEvents.created.type,
      { paymentId, userId },
      { correlationId: requestCorrelation },
    ),
  );
  await write(
    'payment',
    payment,
    traced(
      newEvent(
        paymentEvents.statusChanged.type,
        { paymentId, from: 'waiting', to: 'finished' },
        { correlationId: ipnCorrelation },
      ),
    ),
  );
  const confirmed = await write(
    'payment',
    payment,
    traced(
      newEvent(
        paymentEvents.confirmed.type,
        { paymentId, userId },
        { correlationId: ipnCorrelation },
      ),
    ),
  );
  // … which the brain turns into an agent, and the user service into notifications.
  await write(
    'brain',
    agent,
    traced(
      newEvent(
        agentEvents.deployRequested.type,
        { agentId, paymentId, userId },
        { correlationId: ipnCorrelation, causationId: confirmed.id },
      ),
    ),
  );
  await write(
    'user',
    `notification-${randomUUID()}`,
    newEvent(
      userEvents.notificationCreated.type,
      { userId, sourceEventId: confirmed.id },
      { correlationId: ipnCorrelation, causationId: confirmed.id },
    ),
  );
  // The build tracker polls later, with correlation ids of its own (but in the IPN's trace).
  const tracker = randomUUID();
  await write(
    'brain',
    agent,
    traced(
      newEvent(agentEvents.sessionStarted.type, { agentId, userId }, { correlationId: tracker }),
    ),
  );
  const deployed = await write(
    'brain',
    agent,
    traced(newEvent(agentEvents.deployed.type, { agentId, userId }, { correlationId: tracker })),
  );
  await write(
    'user',
    `notification-${randomUUID()}`,
    newEvent(
      userEvents.notificationCreated.type,
      { userId, sourceEventId: deployed.id },
      { correlationId: tracker, causationId: deployed.id },
    ),
  );

  // Other journeys: another payment that happens to share the IPN's correlation id, and the user's sign-up.
  const other = randomUUID();
  await write(
    'payment',
    `payment-${other}`,
    newEvent(
      paymentEvents.created.type,
      { paymentId: other, userId },
      { correlationId: ipnCorrelation },
    ),
    false,
  );
  await write('user', `user-${userId}`, newEvent(userEvents.registered.type, { userId }), false);
});

afterAll(async () => {
  await fixture?.drop();
});

describe('meetmatt trace', () => {
  test('when given a payment id, an agent id or a correlation id, then the whole journey shows in time order across the services', async () => {
    const [byPayment, byAgent, byCorrelation, byStream] = await Promise.all([
      runCli(['trace', paymentId, '--json'], fixture.env),
      runCli(['trace', agentId, '--json'], fixture.env),
      runCli(['trace', requestCorrelation, '--json'], fixture.env),
      runCli(['trace', `payment-${paymentId}`, '--json'], fixture.env),
    ]);
    const expected = journey.map((j) => [j.service, j.event.streamId, j.event.type, j.event.id]);
    for (const [result, kind] of [
      [byPayment, 'payment'],
      [byAgent, 'agent'],
      [byCorrelation, 'correlation'],
      [byStream, 'payment'],
    ] as const) {
      expect(result.code).toBe(0);
      const traced = jsonOf<{
        kind: string;
        paymentIds: string[];
        agentIds: string[];
        events: {
          service: string;
          stream: string;
          type: string;
          id: string;
          gapMs: number;
          createdAt: string;
        }[];
      }>(result);
      expect(traced.kind).toBe(kind);
      expect(traced.paymentIds).toEqual([paymentId]);
      expect(traced.agentIds).toEqual([agentId]);
      expect(traced.events.map((e) => [e.service, e.stream, e.type, e.id])).toEqual(expected);
      const times = traced.events.map((e) => Date.parse(e.createdAt));
      expect(traced.events.map((e) => e.gapMs)).toEqual(
        times.map((t, i) => (i === 0 ? 0 : t - times[i - 1]!)),
      );
    }
  });

  test('when printed as a table, then each step shows its time, the gap since the one before, service, stream and type', async () => {
    const [table, unknown] = await Promise.all([
      runCli(['trace', paymentId], fixture.env),
      runCli(['trace', randomUUID()], fixture.env),
    ]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`payment ${paymentId} → agent ${agentId}`);
    expect(lines[1]).toMatch(
      /^8 events in payment \(3\), user \(2\), brain \(3\) over \d.*, from \d{4}-\d{2}-\d{2} /,
    );
    expect(lines[3]).toMatch(
      /^TIME \(UTC\)\s+GAP\s+SERVICE\s+STREAM\s+TYPE\s+CORRELATION\s+TRACE$/,
    );
    expect(lines[4]).toMatch(
      new RegExp(
        `^\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\s+payment\\s+payment-${paymentId}\\s+payment\\.created\\s`,
      ),
    );
    expect(lines[7]).toMatch(
      new RegExp(
        `\\+\\d+(\\.\\d)? (ms|s)\\s+brain\\s+agent-${agentId}\\s+agent\\.deploy-requested\\s`,
      ),
    );
    expect(lines).toHaveLength(4 + 8);
    expect(unknown.code).toBe(1);
    expect(failureLine(unknown)).toMatch(
      /^error: nothing found for "[0-9a-f-]+": not a payment id, an agent id, a trace id or a correlation id in payment, user or brain$/,
    );
  });

  test('when given a trace id, then the journey its events belong to shows, the build tracker’s events included, with the trace of each', async () => {
    const [byTrace, table, unknownTrace] = await Promise.all([
      runCli(['trace', traceId, '--json'], fixture.env),
      runCli(['trace', traceId.toUpperCase()], fixture.env),
      runCli(['trace', randomUUID().replaceAll('-', '')], fixture.env),
    ]);
    expect(byTrace.code).toBe(0);
    const traced = jsonOf<{
      kind: string;
      paymentIds: string[];
      agentIds: string[];
      traceIds: string[];
      events: { stream: string; type: string; id: string; metadata?: { traceparent?: string } }[];
    }>(byTrace);
    expect(traced.kind).toBe('trace');
    expect(traced.paymentIds).toEqual([paymentId]);
    expect(traced.agentIds).toEqual([agentId]);
    expect(traced.traceIds).toEqual([traceId]);
    expect(traced.events.map((e) => [e.stream, e.type, e.id])).toEqual(
      journey.map((j) => [j.event.streamId, j.event.type, j.event.id]),
    );
    const deployed = traced.events.find((e) => e.type === agentEvents.deployed.type);
    expect(deployed?.metadata?.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`payment ${paymentId} → agent ${agentId}`);
    expect(lines.find((l) => / agent\.deployed /.test(l))).toMatch(
      new RegExp(`\\s${traceId.slice(0, 8)}…$`),
    );
    expect(unknownTrace.code).toBe(1);
    expect(failureLine(unknownTrace)).toMatch(/^error: nothing found for "[0-9a-f]{32}"/);
  });
});

import { type ServiceKey, services } from '@meetmatt/contracts';
import {
  type EventRow,
  type EventStore,
  PostgresEventStore,
  type RecordedEvent,
  START,
  recordedFromRow,
} from '@meetmatt/infra';
import { agentIdFor } from '@meetmatt/brain-service/domain/agent-identity';
import { type ServiceHandle } from './runtime';

/** What a trace starts from. */
export type JourneyKind = 'payment' | 'agent' | 'trace' | 'correlation';

export interface JourneyEvent {
  service: ServiceKey;
  event: RecordedEvent;
}

export interface Journey {
  kind: JourneyKind;
  paymentIds: string[];
  agentIds: string[];
  correlationIds: string[];
  /** The OpenTelemetry trace ids its events were recorded in (their metadata's `traceparent`). */
  traceIds: string[];
  /** In time order (stores' clocks: one PostgreSQL server, or one EventStoreDB). */
  events: JourneyEvent[];
  /** The search stopped at the cap before it had everything. */
  truncated: boolean;
}

const paymentStream = (id: string) => `${services.payment.streamPrefix}-${id}`;
const agentStream = (id: string) => `${services.brain.streamPrefix}-${id}`;
const MAX_ROUNDS = 8;
/** An OpenTelemetry trace id: 32 lowercase hex digits, not all zero. */
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

/** The trace id in an event's `traceparent` (version-traceid-spanid-flags), if it has one. */
export function traceIdOfEvent(event: RecordedEvent): string | undefined {
  const traceparent = event.metadata.traceparent;
  return typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined;
}

/**
 * Gathers one journey across the three services. A journey is held together by ids: the
 * payment's stream, the agent's stream (its id is derived from the payment id, as brain-service
 * derives it), the correlation ids their events carry, and the events other services wrote
 * because of them (their causation id is the id of the event they consumed). It grows from the
 * seed until nothing new turns up. A trace id (from a tracing backend or a log line's
 * `trace_id`) seeds it with the events recorded in that trace. Events that share a correlation id but sit in another
 * payment's or agent's stream belong to another journey and are left out.
 */
export async function findJourney(
  handles: Record<ServiceKey, ServiceHandle>,
  query: string,
  cap: number,
): Promise<Journey | undefined> {
  const id = query.trim();
  const payments = new Set<string>();
  const agents = new Set<string>();
  const correlations = new Set<string>();
  const traces = new Set<string>();
  const events = new Map<string, JourneyEvent>();
  const readStreams = new Set<string>();
  let kind: JourneyKind;

  const bare = id.replace(
    new RegExp(`^(${services.payment.streamPrefix}|${services.brain.streamPrefix})-`),
    '',
  );
  if (await handles.payment.store.streamExists(paymentStream(bare))) {
    kind = 'payment';
    payments.add(bare);
  } else if (await handles.brain.store.streamExists(agentStream(bare))) {
    kind = 'agent';
    agents.add(bare);
  } else if (TRACE_ID.test(id.toLowerCase())) {
    kind = 'trace';
    traces.add(id.toLowerCase());
  } else {
    kind = 'correlation';
    correlations.add(id);
  }

  const entityStreams = () =>
    new Set([...[...payments].map(paymentStream), ...[...agents].map(agentStream)]);
  const isEntityStream = (service: ServiceKey, streamId: string) =>
    (service === 'payment' && streamId.startsWith(`${services.payment.streamPrefix}-`)) ||
    (service === 'brain' && streamId.startsWith(`${services.brain.streamPrefix}-`));
  const add = (service: ServiceKey, event: RecordedEvent) => {
    if (events.has(event.id)) return;
    events.set(event.id, { service, event });
    if (event.metadata.correlationId) correlations.add(event.metadata.correlationId);
    const data = event.data as { paymentId?: unknown; agentId?: unknown } | null;
    if (typeof data?.paymentId === 'string') payments.add(data.paymentId);
    if (typeof data?.agentId === 'string') agents.add(data.agentId);
  };

  let truncated = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const before = events.size + payments.size + agents.size + correlations.size;
    for (const paymentId of payments) agents.add(agentIdFor(paymentId));
    // The entities' own streams, read whole.
    for (const streamId of entityStreams()) {
      if (readStreams.has(streamId)) continue;
      readStreams.add(streamId);
      const service: ServiceKey = streamId.startsWith(`${services.payment.streamPrefix}-`)
        ? 'payment'
        : 'brain';
      for (const event of await handles[service].store.readStream(streamId, { maxCount: cap }))
        add(service, event);
    }
    // Everything else that shares a correlation id or was caused by one of the journey's events.
    const known = entityStreams();
    const first = round === 0 && (kind === 'correlation' || kind === 'trace');
    for (const handle of Object.values(handles)) {
      const found = await findRelated(
        handle.store,
        { correlationIds: [...correlations], eventIds: [...events.keys()], traceIds: [...traces] },
        cap,
      );
      for (const event of found) {
        if (isEntityStream(handle.key, event.streamId) && !known.has(event.streamId) && !first)
          continue;
        add(handle.key, event);
      }
    }
    if (events.size >= cap) {
      truncated = true;
      break;
    }
    if (events.size + payments.size + agents.size + correlations.size === before) break;
  }
  if (events.size === 0) return undefined;
  // A derived agent id whose stream does not exist was never an agent.
  const existingAgents: string[] = [];
  for (const agentId of agents)
    if ([...events.values()].some((e) => e.event.streamId === agentStream(agentId)))
      existingAgents.push(agentId);
  const ordered = [...events.values()].sort(
    (a, b) =>
      a.event.createdAt.getTime() - b.event.createdAt.getTime() ||
      (a.service === b.service ? a.event.revision - b.event.revision : 0),
  );
  return {
    kind,
    paymentIds: [...payments],
    agentIds: existingAgents,
    correlationIds: [...correlations],
    traceIds: [
      ...new Set(ordered.map((e) => traceIdOfEvent(e.event)).filter((t) => t !== undefined)),
    ],
    events: ordered.slice(0, cap),
    truncated,
  };
}

/** What ties an event to a journey. */
interface Related {
  correlationIds: string[];
  eventIds: string[];
  traceIds: string[];
}

/**
 * Events whose metadata names one of `correlationIds` or whose causation is one of `eventIds`
 * (or whose data names one as its source, as user-service's notifications do), or that were
 * recorded in one of `traceIds`.
 * PostgreSQL answers in one statement over es_events (a sequential scan: an operator's question,
 * not a service's hot path); another store is read through `$all`.
 */
async function findRelated(
  store: EventStore,
  { correlationIds, eventIds, traceIds }: Related,
  cap: number,
): Promise<RecordedEvent[]> {
  if (correlationIds.length + eventIds.length + traceIds.length === 0) return [];
  if (store instanceof PostgresEventStore) {
    const { rows } = await store.pool.query<EventRow>(
      `SELECT transaction_id::text AS xid, global_position::text AS pos, event_id, stream_id,
         stream_revision, event_type, data, metadata, created_at
       FROM es_events
       WHERE metadata->>'correlationId' = ANY($1::text[]) OR metadata->>'causationId' = ANY($2::text[])
          OR data->>'sourceEventId' = ANY($2::text[])
          OR split_part(metadata->>'traceparent', '-', 2) = ANY($3::text[])
       ORDER BY transaction_id, global_position LIMIT $4`,
      [correlationIds, eventIds, traceIds, cap],
    );
    return rows.map(recordedFromRow);
  }
  const wantedCorrelation = new Set(correlationIds);
  const wantedCause = new Set(eventIds);
  const wantedTrace = new Set(traceIds);
  const found: RecordedEvent[] = [];
  let after = START;
  for (;;) {
    const page = await store.readAll({ after, maxCount: 1_000 });
    if (page.length === 0) return found;
    for (const event of page) {
      const source = (event.data as { sourceEventId?: unknown } | null)?.sourceEventId;
      if (
        wantedCorrelation.has(event.metadata.correlationId) ||
        wantedCause.has(event.metadata.causationId) ||
        (typeof source === 'string' && wantedCause.has(source)) ||
        wantedTrace.has(traceIdOfEvent(event) ?? '')
      )
        found.push(event);
      if (found.length >= cap) return found;
    }
    after = page[page.length - 1]!.position;
  }
}

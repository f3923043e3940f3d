import { randomUUID } from 'node:crypto';
import {
  ANY,
  type AppendExpectedRevision,
  type CurrentRevision,
  END,
  type EventData,
  type Filter,
  type JSONType,
  NO_STREAM,
  type Position as EsdbPosition,
  type ReadPosition,
  type ReadRevision,
  type RecordedEvent as EsdbRecordedEvent,
  START as ESDB_START,
  STREAM_EXISTS,
  type AllStreamSubscription,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
} from '@eventstore/db-client';
import {
  type AllFilter,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type RecordedEvent,
  START,
  comparePositions,
} from '../types';

/** What the client hands back for one read record, from a stream read or from `$all`. */
export interface ResolvedRecord {
  event?: EsdbRecordedEvent;
  link?: unknown;
}

export function fromEsdbPosition(position: EsdbPosition): Position {
  return { commit: position.commit, prepare: position.prepare };
}

/** Our START is "before everything"; the client's START constant says the same without a log position. */
export function toReadPosition(position: Position): ReadPosition {
  return comparePositions(position, START) === 0
    ? ESDB_START
    : { commit: position.commit, prepare: position.prepare };
}

export function toReadRevision(from: number | 'start' | 'end'): ReadRevision {
  if (from === 'start') return ESDB_START;
  if (from === 'end') return END;
  return BigInt(from);
}

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    case 'any':
      return ANY;
    default:
      // -1 is what an empty append on a missing stream reports as its next expected revision.
      return expected < 0 ? NO_STREAM : BigInt(expected);
  }
}

/** The client reports the actual revision as a bigint, or 'no_stream' (older servers: -1). */
export function fromCurrentRevision(current: CurrentRevision): number | 'no_stream' {
  if (current === NO_STREAM || current < 0n) return 'no_stream';
  return Number(current);
}

export function toEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.id ?? randomUUID(),
    type: event.type,
    // The client serialises data with JSON.stringify, so any JSON value round-trips even though
    // its type only names objects, arrays and strings; undefined would not serialise at all.
    data: (event.data === undefined ? null : event.data) as JSONType,
    metadata: event.metadata,
  });
}

/** `$`-prefixed types and streams belong to the server (links, metadata, projections, stats). */
export function isSystemRecord(record: { type: string; streamId: string }): boolean {
  return record.type.startsWith('$') || record.streamId.startsWith('$');
}

/**
 * Our view of one record, or undefined for what this contract cannot carry: resolved links and
 * events that are not JSON (written by other tools).
 */
export function toRecordedEvent(resolved: ResolvedRecord): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || resolved.link !== undefined || !event.isJson || event.type === '$>')
    return undefined;
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: toMetadata(event.metadata),
    streamId: event.streamId,
    revision: Number(event.revision),
    position: recordPosition(event),
    createdAt: event.created,
  };
}

/** Servers before 22.6 do not report positions on stream reads; START is the honest "unknown". */
function recordPosition(event: EsdbRecordedEvent): Position {
  return event.position ? fromEsdbPosition(event.position) : START;
}

/**
 * Our events always carry a JSON object; anything else came from outside this adapter and is
 * passed on as an empty object rather than dropping the event.
 */
function toMetadata(raw: unknown): EventMetadata {
  if (
    raw !== null &&
    typeof raw === 'object' &&
    !Array.isArray(raw) &&
    !(raw instanceof Uint8Array)
  ) {
    return raw as EventMetadata;
  }
  return {} as EventMetadata;
}

function nonEmpty(values: string[] | undefined): string[] | undefined {
  return values && values.length > 0 ? values : undefined;
}

/** Every field of the filter, and never a system record: the client-side half of every filter. */
export function matchesFilter(event: RecordedEvent, filter: AllFilter | undefined): boolean {
  if (isSystemRecord(event)) return false;
  const streamPrefixes = nonEmpty(filter?.streamPrefixes);
  const eventTypes = nonEmpty(filter?.eventTypes);
  const typePrefixes = nonEmpty(filter?.eventTypePrefixes);
  if (streamPrefixes && !streamPrefixes.some((p) => event.streamId.startsWith(p))) return false;
  if (eventTypes && !eventTypes.includes(event.type)) return false;
  if (typePrefixes && !typePrefixes.some((p) => event.type.startsWith(p))) return false;
  return true;
}

type CheckpointReached = (subscription: AllStreamSubscription, position: EsdbPosition) => void;

/**
 * The server filters on one thing only, stream name or event type, so it gets the narrowest
 * field we have and `matchesFilter` checks the rest on arrival. Without a filter of ours we
 * still send one (no system events), because only filtered subscriptions report checkpoints.
 */
export function toServerFilter(
  filter: AllFilter | undefined,
  checkpointReached: CheckpointReached,
): Filter {
  const streamPrefixes = nonEmpty(filter?.streamPrefixes);
  const eventTypes = nonEmpty(filter?.eventTypes);
  const typePrefixes = nonEmpty(filter?.eventTypePrefixes);
  if (streamPrefixes) return streamNameFilter({ prefixes: streamPrefixes, checkpointReached });
  if (typePrefixes) return eventTypeFilter({ prefixes: typePrefixes, checkpointReached });
  if (eventTypes) return eventTypeFilter({ regex: exactly(eventTypes), checkpointReached });
  return excludeSystemEvents({ checkpointReached });
}

/** A regex (evaluated by .NET on the server) matching exactly one of the given names. */
function exactly(names: string[]): string {
  return `^(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
}

/** A link event's data is `<revision>@<stream id>` (how `$streams` points at each stream). */
export function linkTarget(data: unknown): string | undefined {
  if (!(data instanceof Uint8Array)) return undefined;
  const text = Buffer.from(data).toString('utf8');
  const at = text.indexOf('@');
  return at > 0 ? text.slice(at + 1) : undefined;
}

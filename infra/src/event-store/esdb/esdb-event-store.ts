import {
  type AllStreamResolvedEvent,
  type AppendResult as EsdbAppendResult,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  type ReadPosition,
  type ReadStreamOptions as EsdbReadStreamOptions,
  type RecordedEvent as EsdbRecordedEvent,
  type ResolvedEvent,
  START as ESDB_START,
  STREAMS_STREAM,
  StreamDeletedError,
  StreamNotFoundError,
  type StreamingRead,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { type Logger } from '../../logging/logger';
import { WrongExpectedRevisionError } from '../errors';
import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  START,
  type StreamInfo,
  type SubscribeToAllOptions,
  type Subscription,
  comparePositions,
} from '../types';
import {
  fromCurrentRevision,
  fromEsdbPosition,
  isSystemRecord,
  linkTarget,
  matchesFilter,
  toEsdbExpectedRevision,
  toEventData,
  toReadPosition,
  toReadRevision,
  toRecordedEvent,
} from './esdb-mapping';
import { EsdbSubscription, type EsdbSubscriptionSource } from './esdb-subscription';

export interface EsdbEventStoreOptions {
  /** An `esdb://` connection string (EVENTSTORE_URL), e.g. `esdb://localhost:2113?tls=false`. */
  connectionString: string;
  logger?: Logger;
}

const DEFAULT_READ_ALL_COUNT = 1_000;
/** Page size of `$all` scans; readAll filters on our side (the client's readAll takes no filter). */
const SCAN_PAGE = 1_000;
/** System records (stats, projection checkpoints) can pile up at the end of the log. */
const HEAD_PAGE = 100;
const PING_TIMEOUT_MS = 5_000;

/** The event store on EventStoreDB (20.10+; 23.10+ for the catch-up signal of subscriptions). */
export class EsdbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly client: EventStoreDBClient;
  private readonly logger: Logger | undefined;
  private readonly subscriptions = new Set<EsdbSubscription>();
  private readonly source: EsdbSubscriptionSource;

  constructor(options: EsdbEventStoreOptions) {
    this.client = EventStoreDBClient.connectionString(options.connectionString);
    this.logger = options.logger;
    this.source = {
      client: this.client,
      logger: this.logger,
      headPosition: () => this.headPosition(),
      lastRecordPosition: () => this.lastRecordPosition(),
    };
  }

  async appendToStream(
    streamId: string,
    events: NewEvent[],
    options: { expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    const expected = options.expectedRevision;
    if (events.length === 0) return this.checkRevision(streamId, expected);
    let result: EsdbAppendResult;
    try {
      result = await this.client.appendToStream(streamId, events.map(toEventData), {
        expectedRevision: toEsdbExpectedRevision(expected),
      });
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        throw new WrongExpectedRevisionError(
          streamId,
          expected,
          fromCurrentRevision(error.actualVersion),
        );
      }
      throw error;
    }
    // Only with `throwOnAppendFailure=false` in the connection string; the client's batch-append
    // path then misreports the current revision (BigInt of a boolean), so ask the stream.
    if (!result.success) {
      const actual = await this.currentRevision(streamId);
      throw new WrongExpectedRevisionError(streamId, expected, actual);
    }
    return {
      nextExpectedRevision: Number(result.nextExpectedRevision),
      position: await this.appendedPosition(streamId, result, events.length),
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (options.maxCount !== undefined && options.maxCount <= 0) return [];
    const backwards = options.direction === 'backwards';
    const resolved = await this.readStreamRecords(streamId, {
      direction: backwards ? BACKWARDS : FORWARDS,
      // The client starts at the start whatever the direction; ours starts backwards at the end.
      fromRevision: toReadRevision(options.fromRevision ?? (backwards ? 'end' : 'start')),
      maxCount: options.maxCount,
    });
    return resolved.flatMap((r) => toRecordedEvent(r) ?? []);
  }

  /**
   * Pages through `$all` and filters here: the client's readAll has no server-side filter (only
   * subscriptions do). ESDB's fromPosition is inclusive, ours is exclusive, hence the `<= cursor`.
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.maxCount ?? DEFAULT_READ_ALL_COUNT;
    const out: RecordedEvent[] = [];
    if (limit <= 0) return out;
    const pageSize = hasFilter(options) ? SCAN_PAGE : Math.min(SCAN_PAGE, limit + 32);
    let cursor = options.after ?? START;
    for (;;) {
      const page = await collect(
        this.client.readAll({ fromPosition: toReadPosition(cursor), maxCount: pageSize }),
      );
      let advanced = false;
      for (const resolved of page) {
        const position = resolved.event ? fromEsdbPosition(resolved.event.position) : undefined;
        if (!position || comparePositions(position, cursor) <= 0) continue;
        cursor = position;
        advanced = true;
        const event = toRecordedEvent(resolved);
        if (event && matchesFilter(event, options.filter)) out.push(event);
        if (out.length >= limit) return out;
      }
      if (!advanced || page.length < pageSize) return out;
    }
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    const subscription = new EsdbSubscription(this.source, options);
    this.subscriptions.add(subscription);
    const forget = (): void => void this.subscriptions.delete(subscription);
    void subscription.done.then(forget, forget);
    return subscription;
  }

  async streamExists(streamId: string): Promise<boolean> {
    return (await this.lastRecordOf(streamId)) !== undefined;
  }

  /** Walks `$all` backwards past system records to the newest event of ours. */
  async headPosition(): Promise<Position | undefined> {
    let from: ReadPosition = END;
    for (;;) {
      const page: AllStreamResolvedEvent[] = await collect(
        this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: HEAD_PAGE }),
      );
      const newest = page.find((r) => r.event && !isSystemRecord(r.event))?.event;
      if (newest) return fromEsdbPosition(newest.position);
      const oldest = page.at(-1)?.event?.position;
      if (page.length < HEAD_PAGE || !oldest) return undefined;
      from = oldest;
    }
  }

  /**
   * From `$streams` when the standard projections keep it; otherwise (projections off) by
   * scanning `$all`. A stale `$streams` (projections turned off later) misses newer streams.
   */
  async listStreams(
    options: { prefix?: string; after?: string; limit?: number } = {},
  ): Promise<StreamInfo[]> {
    const prefix = options.prefix ?? '';
    const after = options.after ?? '';
    const limit = options.limit ?? 100;
    const wanted = (id: string): boolean =>
      !id.startsWith('$') && id.startsWith(prefix) && id > after;
    const indexed = await this.indexedStreamIds();
    if (!indexed) return this.scanStreams(wanted, limit);
    const out: StreamInfo[] = [];
    for (const streamId of [...indexed].filter(wanted).sort()) {
      if (out.length >= limit) break;
      // One read per stream listed: `$streams` only points at each stream's first event.
      const last = await this.lastRecordOf(streamId);
      if (last) out.push({ streamId, revision: Number(last.revision), updatedAt: last.created });
    }
    return out;
  }

  /**
   * Scans `$all` from the start: EventStoreDB has no index by event id. Fine for the operator
   * CLI, never for a request path.
   */
  async readEvent(eventId: string): Promise<RecordedEvent | undefined> {
    const id = eventId.toLowerCase();
    let found: RecordedEvent | undefined;
    await scan(this.client.readAll(), (resolved) => {
      const event = resolved.event;
      if (!event || event.id.toLowerCase() !== id || isSystemRecord(event)) return true;
      found = toRecordedEvent(resolved);
      return false;
    });
    return found;
  }

  async ping(): Promise<void> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
    // Streaming reads have no gRPC deadline in this client, so an unanswered ping would hang.
    await withTimeout(collect(read), PING_TIMEOUT_MS, () => {
      void read.cancel();
      read.destroy();
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.client.dispose();
  }

  /** The position of the last record of any kind, system ones included. */
  private async lastRecordPosition(): Promise<Position | undefined> {
    const [last] = await collect(
      this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }),
    );
    return last?.event ? fromEsdbPosition(last.event.position) : undefined;
  }

  /** Appending nothing writes nothing, so only the expectation is checked (not atomically). */
  private async checkRevision(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const last = await this.lastRecordOf(streamId);
    const actual = last ? Number(last.revision) : undefined;
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && actual === undefined) ||
      (expected === 'stream_exists' && actual !== undefined) ||
      expected === (actual ?? -1);
    if (!ok) throw new WrongExpectedRevisionError(streamId, expected, actual ?? 'no_stream');
    return {
      nextExpectedRevision: actual ?? -1,
      position: last?.position ? fromEsdbPosition(last.position) : START,
    };
  }

  private async currentRevision(streamId: string): Promise<number | 'no_stream'> {
    const last = await this.lastRecordOf(streamId);
    return last ? Number(last.revision) : 'no_stream';
  }

  /**
   * The `$all` position of the last event appended. A single event's reported position is its
   * own. For several, the server may report a span (transaction start as prepare, end as commit)
   * that is no event's position, so the last event is read back by its revision (exact, since
   * revisions never move).
   */
  private async appendedPosition(
    streamId: string,
    result: EsdbAppendResult,
    count: number,
  ): Promise<Position> {
    const reported = result.position && fromEsdbPosition(result.position);
    if (reported && (count === 1 || reported.commit === reported.prepare)) return reported;
    const [last] = await this.readStreamRecords(streamId, {
      fromRevision: result.nextExpectedRevision,
      maxCount: 1,
    });
    return last?.event?.position ? fromEsdbPosition(last.event.position) : (reported ?? START);
  }

  private async lastRecordOf(streamId: string): Promise<EsdbRecordedEvent | undefined> {
    const [last] = await this.readStreamRecords(streamId, {
      direction: BACKWARDS,
      fromRevision: END,
      maxCount: 1,
    });
    return last?.event;
  }

  /** A stream that was never written, or was deleted, reads as empty. */
  private async readStreamRecords(
    streamId: string,
    options: EsdbReadStreamOptions,
  ): Promise<ResolvedEvent[]> {
    try {
      return await collect(this.client.readStream(streamId, options));
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return [];
      throw error;
    }
  }

  /**
   * Every stream id `$streams` links to, plus the streams created since the projection's last
   * link (it writes a moment after the events), or undefined when `$streams` does not exist.
   */
  private async indexedStreamIds(): Promise<Set<string> | undefined> {
    let links: ResolvedEvent[];
    try {
      links = await collect(this.client.readStream(STREAMS_STREAM));
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
      this.logger?.debug(
        '$streams does not exist (standard projections off): listing streams by scanning $all',
      );
      return undefined;
    }
    const ids = new Set(links.flatMap((link) => linkTarget(link.event?.data) ?? []));
    // The projection follows $all in order, so every stream first written after the first event
    // of the last stream it linked is found by reading $all from there.
    const [lastLink] = await collect(
      this.client.readStream(STREAMS_STREAM, {
        direction: BACKWARDS,
        fromRevision: END,
        maxCount: 1,
        resolveLinkTos: true,
      }),
    );
    const from = lastLink?.event?.position
      ? toReadPosition(fromEsdbPosition(lastLink.event.position))
      : ESDB_START;
    await scan(this.client.readAll({ fromPosition: from }), ({ event }) => {
      if (event && event.revision === 0n && !isSystemRecord(event)) ids.add(event.streamId);
      return true;
    });
    return ids;
  }

  /** Each stream's last event, as `$all` is read from the start (deleted streams included until scavenged). */
  private async scanStreams(wanted: (id: string) => boolean, limit: number): Promise<StreamInfo[]> {
    const streams = new Map<string, StreamInfo>();
    await scan(this.client.readAll(), ({ event }) => {
      if (event && !isSystemRecord(event) && wanted(event.streamId)) {
        streams.set(event.streamId, {
          streamId: event.streamId,
          revision: Number(event.revision),
          updatedAt: event.created,
        });
      }
      return true;
    });
    return [...streams.values()].sort((a, b) => (a.streamId < b.streamId ? -1 : 1)).slice(0, limit);
  }
}

function hasFilter(options: ReadAllOptions): boolean {
  const f = options.filter;
  return Boolean(
    f?.streamPrefixes?.length || f?.eventTypes?.length || f?.eventTypePrefixes?.length,
  );
}

/** Visits a read until `visit` returns false, then cancels the rest on the server. */
async function scan<E>(read: StreamingRead<E>, visit: (item: E) => boolean): Promise<void> {
  for await (const item of read) {
    if (!visit(item)) {
      await read.cancel();
      return;
    }
  }
}

async function collect<E>(read: StreamingRead<E>): Promise<E[]> {
  const items: E[] = [];
  for await (const item of read) items.push(item);
  return items;
}

async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`EventStoreDB did not answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

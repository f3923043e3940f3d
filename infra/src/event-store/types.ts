/**
 * The event store contract. Two adapters implement it (PostgreSQL, EventStoreDB) and pass the
 * same test suite (infra/test/event-store/contract.ts); services see nothing else.
 */

/**
 * Where an event sits in `$all`. Ordered by `commit`, then `prepare`:
 * - EventStoreDB: its commit and prepare positions in the transaction log.
 * - PostgreSQL: the writing transaction's id (`xid8`) and the row's global position, because
 *   positions are handed out at insert but become visible at commit, and only the pair is a
 *   total order that a reader can follow without skipping a late commit.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** Before the first event of `$all`. */
export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** `commit:prepare`, for checkpoints, logs and the CLI. */
export function formatPosition(position: Position): string {
  return `${position.commit}:${position.prepare}`;
}

export function parsePosition(text: string): Position {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`not a position: ${JSON.stringify(text)} (expected commit:prepare)`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

/**
 * What the appender believes about the stream: it must not exist, must exist, anything goes,
 * or its last event has exactly this revision (revisions count from 0).
 */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

/** Carried by every event; `schemaVersion` is the version of its data's schema. */
export interface EventMetadata {
  correlationId: string;
  causationId: string;
  userId?: string;
  schemaVersion: number;
  /** W3C Trace Context of the work that appended the event, when it was traced. */
  traceparent?: string;
  tracestate?: string;
  [extra: string]: unknown;
}

export interface NewEvent {
  /** A UUID; generated when absent. */
  id?: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface RecordedEvent {
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  streamId: string;
  /** Position within its stream, from 0. */
  revision: number;
  position: Position;
  createdAt: Date;
}

export interface AppendResult {
  /** The revision of the last event appended: pass it as the next expected revision. */
  nextExpectedRevision: number;
  /** The `$all` position of the last event appended (for read-your-writes). */
  position: Position;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive. Defaults to the start (forwards) or the end (backwards). */
  fromRevision?: number | 'start' | 'end';
  maxCount?: number;
}

/** Narrows `$all`. Several fields together must all match. */
export interface AllFilter {
  streamPrefixes?: string[];
  eventTypes?: string[];
  eventTypePrefixes?: string[];
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Defaults to the start. */
  after?: Position;
  maxCount?: number;
  filter?: AllFilter;
}

export interface SubscriptionBatchContext {
  /** True once every event that existed when the subscription started has been delivered. */
  caughtUp: boolean;
}

export interface SubscribeToAllOptions {
  /** Exclusive: deliver events strictly after this position. 'end' means live events only. */
  from: Position | 'end';
  filter?: AllFilter;
  /** Upper bound of events per `onEvents` call. */
  batchSize?: number;
  /**
   * Delivers events in order. The next batch is read only after this resolves; if it throws,
   * the subscription stops and `done` rejects with the error (the caller decides what a failed
   * batch means). A batch is never empty.
   */
  onEvents(events: RecordedEvent[], context: SubscriptionBatchContext): Promise<void>;
  /** Called once, when history has been delivered and the subscription turns live. */
  onCaughtUp?(position: Position | undefined): void | Promise<void>;
  /**
   * Reports that everything up to `position` has been examined (filtered subscriptions advance
   * past events they did not receive). Safe to store as a checkpoint.
   */
  onCheckpoint?(position: Position): void | Promise<void>;
  /** The store connection dropped; the subscription resubscribes from its last position. */
  onDropped?(error: Error, attempt: number): void;
}

export interface SubscriptionLag {
  /** The last position delivered or examined. */
  position: Position | undefined;
  /** The newest position in `$all`. */
  head: Position | undefined;
  /** Events (PostgreSQL) or log bytes (EventStoreDB) between position and head. */
  behind: number;
  /** PostgreSQL: age of the oldest open transaction holding readers back; 0 when none. */
  oldestOpenTransactionMs: number;
  caughtUp: boolean;
}

export interface Subscription {
  readonly caughtUp: boolean;
  /** The last position delivered or examined. */
  readonly position: Position | undefined;
  /** Settles when the subscription stops: resolves after `stop()`, rejects when `onEvents` threw. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
  lag(): Promise<SubscriptionLag>;
}

export interface StreamInfo {
  streamId: string;
  /** Revision of the last event. */
  revision: number;
  updatedAt?: Date;
}

export interface EventStore {
  /** Which adapter: for logs, /readyz and the CLI. */
  readonly kind: 'postgres' | 'eventstoredb';

  appendToStream(
    streamId: string,
    events: NewEvent[],
    options: { expectedRevision: ExpectedRevision },
  ): Promise<AppendResult>;

  /** Events of one stream; a stream that does not exist reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /** `$all` forwards, in position order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /** A catch-up subscription to `$all`: history from `from`, then live events. */
  subscribeToAll(options: SubscribeToAllOptions): Subscription;

  streamExists(streamId: string): Promise<boolean>;

  /** The position of the newest event, or undefined when the store is empty. */
  headPosition(): Promise<Position | undefined>;

  /** Streams whose id starts with `prefix`, in id order, for operators. */
  listStreams(options?: { prefix?: string; after?: string; limit?: number }): Promise<StreamInfo[]>;

  /** One event by id, for operators. */
  readEvent(eventId: string): Promise<RecordedEvent | undefined>;

  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

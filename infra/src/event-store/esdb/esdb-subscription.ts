import { type AllStreamResolvedEvent, type EventStoreDBClient } from '@eventstore/db-client';
import { type Logger } from '../../logging/logger';
import { backoffDelay, sleep } from '../../runtime/backoff';
import {
  type Position,
  type RecordedEvent,
  START,
  type SubscribeToAllOptions,
  type Subscription,
  type SubscriptionLag,
  comparePositions,
  formatPosition,
} from '../types';
import {
  fromEsdbPosition,
  matchesFilter,
  toReadPosition,
  toRecordedEvent,
  toServerFilter,
} from './esdb-mapping';
import { type InboxItem, SubscriptionInbox } from './subscription-inbox';

/** What a subscription needs from its store. */
export interface EsdbSubscriptionSource {
  readonly client: EventStoreDBClient;
  readonly logger: Logger | undefined;
  /** The newest non-system position (lag is measured against it). */
  headPosition(): Promise<Position | undefined>;
  /** The position of the last record of any kind: where "live only" starts. */
  lastRecordPosition(): Promise<Position | undefined>;
}

/** A failure of the caller's callback, kept apart from store failures (which are retried). */
class CallbackError extends Error {
  constructor(readonly original: unknown) {
    super(toError(original).message);
  }
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;

/**
 * A catch-up subscription to `$all` over the client's `subscribeToAll`. The client does not
 * resubscribe after a drop, so this does, from the last position delivered or checkpointed.
 */
export class EsdbSubscription implements Subscription {
  readonly done: Promise<void>;
  private positionValue: Position | undefined;
  /** The last position examined, including events of a batch still being delivered. */
  private seen: Position | undefined;
  /** The last position the caller heard of, through onEvents or onCheckpoint. */
  private reported: Position | undefined;
  private caughtUpValue = false;
  private stopped = false;
  private attempt = 0;
  private inbox: SubscriptionInbox | undefined;
  /** Aborted by stop(): ends a backoff sleep at once. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly source: EsdbSubscriptionSource,
    private readonly options: SubscribeToAllOptions,
  ) {
    this.positionValue = options.from === 'end' ? undefined : options.from;
    this.reported = this.positionValue;
    this.done = this.run();
    // Callers that only ever call stop() must not see an unhandled rejection.
    this.done.catch(() => undefined);
  }

  get caughtUp(): boolean {
    return this.caughtUpValue;
  }

  get position(): Position | undefined {
    return this.positionValue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.inbox?.finish();
    await this.done.catch(() => undefined);
  }

  /** Lag in log bytes: EventStoreDB positions are offsets in its transaction log. */
  async lag(): Promise<SubscriptionLag> {
    const head = await this.source.headPosition();
    const position = this.positionValue;
    const behind = head ? Math.max(0, Number(head.commit - (position?.commit ?? 0n))) : 0;
    return { position, head, behind, oldestOpenTransactionMs: 0, caughtUp: this.caughtUpValue };
  }

  private async run(): Promise<void> {
    if (this.options.from === 'end') await this.startAtEnd();
    while (!this.stopped) {
      try {
        await this.subscribeOnce();
        if (!this.stopped) throw new Error('EventStoreDB ended the subscription');
      } catch (error) {
        if (error instanceof CallbackError) throw error.original;
        if (this.stopped) return;
        await this.dropped(toError(error));
      }
    }
  }

  /**
   * "Live only" becomes "after the last record now in the log": a resubscription after a drop
   * must resume from a real position, and the client's END would skip what was written meanwhile.
   */
  private async startAtEnd(): Promise<void> {
    while (!this.stopped) {
      try {
        this.positionValue = await this.source.lastRecordPosition();
        this.reported = this.positionValue;
        this.attempt = 0;
        return;
      } catch (error) {
        await this.dropped(toError(error));
      }
    }
  }

  private async subscribeOnce(): Promise<void> {
    const batchSize = Math.max(1, this.options.batchSize ?? 500);
    const inbox = new SubscriptionInbox(batchSize);
    this.inbox = inbox;
    this.seen = this.positionValue;
    const stream = this.source.client.subscribeToAll({
      fromPosition: toReadPosition(this.positionValue ?? START),
      filter: toServerFilter(this.options.filter, inbox.checkpointReached),
    });
    inbox.attach(stream);
    stream.once('confirmation', () => (this.attempt = 0));
    try {
      await this.consume(inbox, batchSize);
    } finally {
      this.inbox = undefined;
      // Not awaited: a dead connection must not hold up stop(). The inbox keeps listening for
      // 'error', so a late failure of the old stream is absorbed rather than thrown.
      stream.unsubscribe().catch(() => undefined);
      stream.destroy();
    }
  }

  private async consume(inbox: SubscriptionInbox, batchSize: number): Promise<void> {
    while (!this.stopped) {
      const items = await inbox.take(batchSize);
      if (!items || this.stopped) return;
      await this.handle(items);
    }
  }

  /**
   * Delivers events in batches, flushing the batch before each checkpoint or catch-up signal.
   * Events we filter out ourselves (the server filters on one field only) get no server
   * checkpoint, so when the items end on such events we report a checkpoint past them.
   */
  private async handle(items: InboxItem[]): Promise<void> {
    const batch: RecordedEvent[] = [];
    for (const item of items) {
      if (item.kind === 'event') {
        this.examine(item.resolved, batch);
        continue;
      }
      await this.deliver(batch.splice(0));
      if (this.stopped) return;
      if (item.kind === 'checkpoint') await this.checkpoint(fromEsdbPosition(item.position));
      else await this.turnLive();
    }
    await this.deliver(batch);
    if (this.seen && !this.stopped) await this.checkpoint(this.seen);
  }

  private examine(resolved: AllStreamResolvedEvent, batch: RecordedEvent[]): void {
    const raw = resolved.event?.position;
    if (!raw) return;
    const position = fromEsdbPosition(raw);
    // The server starts after the position it is given; this only guards a resubscription.
    if (this.seen && comparePositions(position, this.seen) <= 0) return;
    this.seen = position;
    const event = toRecordedEvent(resolved);
    if (event && matchesFilter(event, this.options.filter)) batch.push(event);
  }

  /** Everything up to `seen` is now delivered or was filtered out. */
  private async deliver(events: RecordedEvent[]): Promise<void> {
    if (this.stopped) return;
    const last = events[events.length - 1];
    if (last) {
      await this.callback(() => this.options.onEvents(events, { caughtUp: this.caughtUpValue }));
      this.reported = last.position;
    }
    this.advance(this.seen);
  }

  /** Only forwards: a checkpoint behind what the caller already has would move it back. */
  private async checkpoint(position: Position): Promise<void> {
    if (this.reported && comparePositions(position, this.reported) <= 0) return;
    this.advance(position);
    if (!this.seen || comparePositions(position, this.seen) > 0) this.seen = position;
    this.reported = position;
    await this.callback(() => this.options.onCheckpoint?.(position));
  }

  private async turnLive(): Promise<void> {
    if (this.caughtUpValue) return;
    this.caughtUpValue = true;
    await this.callback(() => this.options.onCaughtUp?.(this.positionValue));
  }

  private advance(position: Position | undefined): void {
    if (!position) return;
    const ahead = !this.positionValue || comparePositions(position, this.positionValue) > 0;
    if (ahead) this.positionValue = position;
  }

  private async dropped(error: Error): Promise<void> {
    this.attempt += 1;
    this.source.logger?.warn('eventstoredb subscription dropped, resubscribing', {
      error: error.message,
      attempt: this.attempt,
      position: this.positionValue && formatPosition(this.positionValue),
    });
    try {
      this.options.onDropped?.(error, this.attempt);
    } catch (callbackError) {
      this.source.logger?.error('onDropped threw', { error: toError(callbackError).message });
    }
    await sleep(backoffDelay(this.attempt, MIN_BACKOFF_MS, MAX_BACKOFF_MS), this.stopping.signal);
  }

  private async callback(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      throw new CallbackError(error);
    }
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

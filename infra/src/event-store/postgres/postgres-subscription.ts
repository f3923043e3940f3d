import { type Logger } from '../../logging/logger';
import { backoffDelay, sleep } from '../../runtime/backoff';
import {
  type Position,
  START,
  type SubscribeToAllOptions,
  type Subscription,
  type SubscriptionLag,
  comparePositions,
} from '../types';
import { type PostgresEventStore, type VisibleRead } from './postgres-event-store';

/** The first wait while events are held back by an open transaction. */
const FAST_POLL_MS = 5;

/** A handler failure, kept apart from store failures (which are retried). */
class HandlerError extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

/**
 * A catch-up subscription over `PostgresEventStore.readVisible`: reads batches until it has
 * caught up, then sleeps until a notification or the polling fallback wakes it. While events are
 * held back by an open older transaction it polls quickly, since that transaction's end
 * (commit or rollback) is what releases them, and a rollback sends no notification.
 */
export class PostgresSubscription implements Subscription {
  readonly done: Promise<void>;
  private positionValue: Position | undefined;
  private caughtUpValue = false;
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: SubscribeToAllOptions,
    private readonly logger: Logger | undefined,
    private readonly pollIntervalMs: number,
  ) {
    this.positionValue = options.from === 'end' ? undefined : options.from;
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
    this.store.notifier.wakeLocal();
    await this.done.catch(() => undefined);
  }

  async lag(): Promise<SubscriptionLag> {
    const [head, oldest] = await Promise.all([
      this.store.headPosition(),
      this.store.oldestOpenTransactionMs(),
    ]);
    const position = this.positionValue;
    const behind = await this.store.countAfter(position ?? START);
    return {
      position,
      head,
      behind,
      oldestOpenTransactionMs: oldest,
      caughtUp: this.caughtUpValue,
    };
  }

  private async run(): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    let attempt = 0;
    let fastPollMs = FAST_POLL_MS;
    if (this.options.from === 'end') this.positionValue = await this.startAtEnd();
    // While one batch is being handled, the next is already being read: catching up then keeps
    // the database busy on both sides (reads and the handler's writes) instead of taking turns.
    let ahead: { generation: number; read: Promise<VisibleRead> } | undefined;
    while (!this.stopped) {
      try {
        const next = ahead ?? this.readFrom(this.positionValue, batchSize);
        ahead = undefined;
        const { generation } = next;
        const read = await next.read;
        attempt = 0;
        if (this.stopped) break;
        if (read.events.length > 0) {
          const last = read.events[read.events.length - 1]!;
          if (read.events.length === batchSize) ahead = this.readFrom(last.position, batchSize);
          await this.deliver(read.events);
          this.positionValue = last.position;
          if (read.events.length === batchSize) continue;
        }
        if (!this.caughtUpValue) {
          this.caughtUpValue = true;
          await this.callback(() => this.options.onCaughtUp?.(this.positionValue));
        }
        const head = read.visibleHead;
        if (head && (!this.positionValue || comparePositions(head, this.positionValue) > 0)) {
          // Everything up to the head was examined; a filtered reader skips what it did not want.
          this.positionValue = head;
          await this.callback(() => this.options.onCheckpoint?.(head));
        }
        if (read.heldBack) {
          // Under load some transaction of this database is nearly always open, so events are
          // often held back for a few milliseconds. Progress starts the short wait over, and an
          // append committed in this process (most often the very one holding us back) wakes us;
          // only a reader that keeps finding nothing new backs off towards 250 ms.
          if (read.events.length > 0) fastPollMs = FAST_POLL_MS;
          await this.store.notifier.wait(fastPollMs, generation);
          fastPollMs = Math.min(fastPollMs * 2, 250);
        } else {
          fastPollMs = FAST_POLL_MS;
          await this.store.notifier.wait(this.pollIntervalMs, generation);
        }
      } catch (error) {
        ahead = undefined;
        if (error instanceof HandlerError) throw error.original;
        if (this.stopped) break;
        attempt += 1;
        this.logger?.warn('event subscription dropped, resubscribing', {
          error: (error as Error).message,
          attempt,
        });
        this.options.onDropped?.(error as Error, attempt);
        await this.pause(backoffDelay(attempt, 100, 5_000));
      }
    }
  }

  private readFrom(
    position: Position | undefined,
    batchSize: number,
  ): { generation: number; read: Promise<VisibleRead> } {
    const generation = this.store.notifier.generation;
    const read = this.store.readVisible(position ?? START, batchSize, this.options.filter);
    // A read ahead that is then dropped (stop, handler failure) must not surface as unhandled.
    read.catch(() => undefined);
    return { generation, read };
  }

  private async startAtEnd(): Promise<Position | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.store.headPosition();
      } catch (error) {
        if (this.stopped) return undefined;
        this.options.onDropped?.(error as Error, attempt);
        await this.pause(backoffDelay(attempt, 100, 5_000));
      }
    }
  }

  private async deliver(events: Parameters<SubscribeToAllOptions['onEvents']>[0]): Promise<void> {
    await this.callback(() => this.options.onEvents(events, { caughtUp: this.caughtUpValue }));
  }

  private async callback(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      throw new HandlerError(error);
    }
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, this.stopping.signal);
  }
}

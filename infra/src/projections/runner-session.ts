import { type Logger } from '../logging/logger';
import {
  type EventStore,
  type Position,
  type RecordedEvent,
  type Subscription,
  comparePositions,
} from '../event-store/types';
import { type ApplyTarget, applyBatch, applyIsolating } from './apply-batch';
import { SerialLane } from './changes';
import { CheckpointMovedError, PoisonEventError, errorMessage, isTransientError } from './errors';
import { type StatusRow, storedPosition } from './status-rows';

export interface SessionOptions {
  target: ApplyTarget;
  store: EventStore;
  batchSize: number;
  /** How often the stored status is compared with what this session believes. */
  controlPollMs: number;
  /** At most this often, a checkpoint that only moved past unwanted events is stored. */
  checkpointIntervalMs: number;
  logger?: Logger | undefined;
  readStatus(): Promise<StatusRow | undefined>;
  /** Everything up to `position` has been applied or examined. */
  onPosition(position: Position): void;
  onApplied(count: number): void;
  onCaughtUp(): Promise<void>;
}

export type SessionEnd =
  | { kind: 'aborted' }
  /** The stored status changed under this session: start again from it. */
  | { kind: 'restart'; reason: string }
  | { kind: 'poisoned'; error: PoisonEventError }
  | { kind: 'error'; error: unknown };

/**
 * One subscription's lifetime for a leading runner: from the stored checkpoint, each batch is
 * applied and checkpointed in one transaction guarded by that checkpoint. It ends when its
 * leadership ends, when the stored status no longer matches (reset, skip, swap, stop…), when an
 * event turns out to be poison, or on a failure worth retrying from the stored checkpoint.
 */
export class RunnerSession {
  private readonly lane = new SerialLane();
  private committed: Position;
  private examined: Position;
  private pending: Position | undefined;
  private lastFlush = Date.now();
  private flushTimer: NodeJS.Timeout | undefined;
  private finish: (end: SessionEnd) => void = () => undefined;
  private queuedCheck: Promise<boolean> | undefined;

  constructor(
    private readonly options: SessionOptions,
    from: Position,
  ) {
    this.committed = from;
    this.examined = from;
  }

  async run(signal: AbortSignal): Promise<SessionEnd> {
    const ended = new Promise<SessionEnd>((resolve) => (this.finish = resolve));
    const onAbort = () => this.finish({ kind: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    this.options.onPosition(this.committed);
    const subscription = this.subscribe();
    subscription.done.then(
      () => this.finish({ kind: 'aborted' }),
      (error: unknown) => this.finish(classify(error)),
    );
    const control = setInterval(() => void this.checkNow(), this.options.controlPollMs);
    try {
      return await ended;
    } finally {
      clearInterval(control);
      clearTimeout(this.flushTimer);
      signal.removeEventListener('abort', onAbort);
      await subscription.stop();
      await this.lane.run(() => this.flush()).catch(() => undefined);
    }
  }

  /**
   * Compares the stored status with this session's now, not at the next control poll; resolves
   * true when the session is ending because of what it found.
   */
  checkNow(): Promise<boolean> {
    // One check waiting behind a long batch is enough; polls that come meanwhile share it.
    this.queuedCheck ??= this.lane
      .run(() => {
        this.queuedCheck = undefined;
        return this.checkControl();
      })
      .catch(() => false);
    return this.queuedCheck;
  }

  private subscribe(): Subscription {
    const { store, target, batchSize } = this.options;
    return store.subscribeToAll({
      from: this.committed,
      filter: { eventTypes: [...target.projection.eventTypes] },
      batchSize,
      onEvents: (events) => this.lane.run(() => this.onEvents(events)),
      onCheckpoint: (position) => this.lane.run(() => this.onCheckpoint(position)),
      onCaughtUp: () => this.options.onCaughtUp(),
    });
  }

  private async onEvents(events: RecordedEvent[]): Promise<void> {
    const last = events[events.length - 1]!;
    try {
      await applyBatch(this.options.target, this.committed, events);
      this.advanced(last.position, events.length);
      return;
    } catch (error) {
      if (isTransientError(error)) throw error;
      this.options.logger?.warn('projection batch failed, applying its events one at a time', {
        projection: this.options.target.projection.name,
        events: events.length,
        error: errorMessage(error),
      });
    }
    const outcome = await applyIsolating(this.options.target, this.committed, events);
    if (outcome.applied > 0) this.advanced(events[outcome.applied - 1]!.position, outcome.applied);
    if (outcome.poison) {
      const { event, error } = outcome.poison;
      throw new PoisonEventError(
        this.options.target.projection.name,
        event.id,
        errorMessage(error),
      );
    }
  }

  private advanced(position: Position, applied: number): void {
    this.committed = position;
    if (this.pending && comparePositions(this.pending, position) <= 0) this.pending = undefined;
    this.options.onApplied(applied);
    this.examine(position);
  }

  /** A filtered subscription moved past events this projection does not handle. */
  private async onCheckpoint(position: Position): Promise<void> {
    if (!this.examine(position)) return;
    this.pending = position;
    const wait = this.lastFlush + this.options.checkpointIntervalMs - Date.now();
    if (wait <= 0) return this.flush();
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.lane
        .run(() => this.flush())
        .catch((error: unknown) => this.finish(classify(error)));
    }, wait);
  }

  private examine(position: Position): boolean {
    if (comparePositions(position, this.examined) <= 0) return false;
    this.examined = position;
    this.options.onPosition(position);
    return true;
  }

  /** Stores a checkpoint that moved without events, through the same guard as a batch. */
  private async flush(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    const { db, guard } = this.options.target;
    await db.transaction().execute(async (trx) => {
      await guard.lock(trx, this.committed);
      await guard.advance(trx, pending, 0);
    });
    this.committed = pending;
    this.pending = undefined;
    this.lastFlush = Date.now();
  }

  /** Operators (reset, skip, stop), swaps and other instances change the status row. */
  private async checkControl(): Promise<boolean> {
    let row: StatusRow | undefined;
    try {
      row = await this.options.readStatus();
    } catch {
      return false; // the next batch's guard finds out anyway
    }
    const projection = this.options.target.projection;
    const reason = !row
      ? 'status row is gone'
      : row.version !== projection.version
        ? `live tables are version ${row.version}`
        : row.state !== 'running' && row.state !== 'catching-up'
          ? `state is ${row.state}`
          : comparePositions(storedPosition(row.position), this.committed) !== 0
            ? `checkpoint moved to ${row.position}`
            : undefined;
    if (reason) this.finish({ kind: 'restart', reason });
    return reason !== undefined;
  }
}

function classify(error: unknown): SessionEnd {
  if (error instanceof PoisonEventError) return { kind: 'poisoned', error };
  if (error instanceof CheckpointMovedError) return { kind: 'restart', reason: error.message };
  return { kind: 'error', error };
}

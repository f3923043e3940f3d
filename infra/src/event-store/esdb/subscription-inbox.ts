import {
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type Position as EsdbPosition,
} from '@eventstore/db-client';

export type InboxItem =
  | { kind: 'event'; resolved: AllStreamResolvedEvent }
  | { kind: 'checkpoint'; position: EsdbPosition }
  | { kind: 'caughtUp' };

/**
 * Puts one client subscription's events, checkpoints and catch-up signal back in wire order,
 * and applies backpressure.
 *
 * Why: the client calls `checkpointReached` and emits `caughtUp` the moment it receives them,
 * while events received just before may still sit in its readable buffer. Acting on a signal at
 * once would store a checkpoint past undelivered events, or report "caught up" before history
 * was delivered. So a signal waits behind exactly the events buffered ahead of it
 * (`readableLength` when it arrives; the buffer is first in, first out).
 *
 * Backpressure: the stream is paused once `highWater` items wait here; the client's buffer then
 * fills, its transform stops, and gRPC flow control holds the server back.
 */
export class SubscriptionInbox {
  private readonly ready: InboxItem[] = [];
  private readonly waiting: { ahead: number; item: InboxItem }[] = [];
  private stream: AllStreamSubscription | undefined;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly highWater: number) {}

  /** Give this to the subscription's filter as `checkpointReached`. */
  readonly checkpointReached = (
    _subscription: AllStreamSubscription,
    position: EsdbPosition,
  ): void => {
    this.signal({ kind: 'checkpoint', position });
  };

  attach(stream: AllStreamSubscription): void {
    this.stream = stream;
    stream.on('data', (resolved: AllStreamResolvedEvent) => this.onEvent(resolved));
    stream.on('caughtUp', () => this.signal({ kind: 'caughtUp' }));
    stream.on('error', (error: Error) => this.finish(error));
    stream.on('end', () => this.finish());
    stream.on('close', () => this.finish());
  }

  /** Ends `take` (after what is ready): the stream ended, failed, or we stop. */
  finish(error?: Error): void {
    if (error && !this.failure && !this.ended) this.failure = error;
    this.ended = true;
    this.notify();
  }

  /** Up to `max` items in order; undefined once the stream has ended; throws its error. */
  async take(max: number): Promise<InboxItem[] | undefined> {
    while (this.ready.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const items = this.ready.splice(0, max);
    if (this.stream?.isPaused() && this.ready.length < this.highWater / 2) this.stream.resume();
    return items;
  }

  private onEvent(resolved: AllStreamResolvedEvent): void {
    this.ready.push({ kind: 'event', resolved });
    for (const entry of this.waiting) entry.ahead -= 1;
    this.release();
    if (this.ready.length >= this.highWater) this.stream?.pause();
  }

  private signal(item: InboxItem): void {
    this.waiting.push({ ahead: this.stream?.readableLength ?? 0, item });
    this.release();
  }

  /** Moves the signals whose events have all arrived behind those events. */
  private release(): void {
    for (let head = this.waiting[0]; head && head.ahead <= 0; head = this.waiting[0]) {
      this.waiting.shift();
      this.ready.push(head.item);
    }
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

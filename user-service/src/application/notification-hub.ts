import { type NotificationView } from '../projections/notification-queries';

export type { NotificationView };

type Listener = (notification: NotificationView) => void;

interface Subscription {
  listener: Listener;
  /** Ends the stream (when a newer one pushes it out). */
  evict: () => void;
}

/**
 * Who is listening for a user's notifications right now (the open SSE streams of this
 * instance). Each user holds at most `maxPerUser` streams: a new one beyond that closes their
 * oldest, so one account cannot pin an unbounded number of connections (a client that lost
 * track of its old streams gets the newest one working).
 */
export class NotificationHub {
  private readonly listeners = new Map<string, Set<Subscription>>();
  private readonly closers = new Set<() => void>();

  constructor(private readonly maxPerUser = 5) {}

  subscribe(userId: string, listener: Listener, evict: () => void = () => undefined): () => void {
    let set = this.listeners.get(userId);
    if (!set) this.listeners.set(userId, (set = new Set()));
    const subscription = { listener, evict };
    set.add(subscription);
    // A Set iterates in insertion order: the first entries are the oldest streams.
    for (const oldest of [...set].slice(0, Math.max(0, set.size - this.maxPerUser))) {
      set.delete(oldest);
      oldest.evict();
    }
    return () => {
      set.delete(subscription);
      if (set.size === 0 && this.listeners.get(userId) === set) this.listeners.delete(userId);
    };
  }

  publish(userId: string, notification: NotificationView): void {
    for (const { listener } of [...(this.listeners.get(userId) ?? [])]) listener(notification);
  }

  /** Registers how to end a stream, for shutdown; returns the unregistration. */
  onClose(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  /** Ends every open stream (before the server closes, which would otherwise wait for them). */
  closeAll(): void {
    for (const close of [...this.closers]) close();
    this.closers.clear();
  }

  get connections(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}

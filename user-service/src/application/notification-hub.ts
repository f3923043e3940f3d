import { type NotificationKind } from '@meetmatt/contracts';

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  correlationId: string | null;
  read: boolean;
  createdAt: string;
}

type Listener = (notification: NotificationView) => void;

/** Who is listening for a user's notifications right now (the open SSE streams of this instance). */
export class NotificationHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly closers = new Set<() => void>();

  subscribe(userId: string, listener: Listener): () => void {
    let set = this.listeners.get(userId);
    if (!set) this.listeners.set(userId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(userId);
    };
  }

  publish(userId: string, notification: NotificationView): void {
    for (const listener of [...(this.listeners.get(userId) ?? [])]) listener(notification);
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

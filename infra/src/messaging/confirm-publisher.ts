import { type Writable } from 'node:stream';
import { type ConfirmChannel, type Message } from 'amqplib';
import { type OutgoingMessage } from './cloud-event';
import { traceFieldsOf, withTraceOf } from '../tracing/propagation';

/**
 * What became of one published message: the broker took responsibility for it (`confirmed`), it
 * was confirmed but no queue was bound for it (`returned`), or nothing is known (`failed`: a
 * nack, a closed channel, no confirm in time). Only `failed` needs publishing again.
 */
export type PublishOutcome = 'confirmed' | 'returned' | 'failed';

/**
 * A returned `mandatory` message is still confirmed, so returns must be watched beside confirms.
 * The broker sends `basic.return` before the `basic.ack` of the same message on the same channel,
 * so by the time a confirm callback runs, the tracker already knows whether it came back.
 */
export class ReturnTracker {
  private readonly returned = new Map<string, number>();

  static attach(channel: ConfirmChannel): ReturnTracker {
    const tracker = new ReturnTracker();
    channel.on('return', (message: Message) => tracker.record(message));
    return tracker;
  }

  private record(message: Message): void {
    const id: unknown = message.properties.messageId;
    if (typeof id === 'string') this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
  }

  /** Whether `messageId` came back (consuming one return of it). */
  take(messageId: string): boolean {
    const count = this.returned.get(messageId);
    if (!count) return false;
    if (count === 1) this.returned.delete(messageId);
    else this.returned.set(messageId, count - 1);
    return true;
  }
}

/**
 * Publishes `messages` (mandatory, so unroutable ones are reported) and waits for the broker's
 * confirms, respecting the socket's backpressure. Never throws: each message gets an outcome.
 * After a timeout the channel's state is unknown and the caller should replace it.
 */
export async function publishConfirmed(
  channel: ConfirmChannel,
  returns: ReturnTracker,
  exchange: string,
  messages: readonly OutgoingMessage[],
  timeoutMs: number,
  /** Called once every message has been handed to the channel, before the confirms. */
  handedOver: () => void = () => undefined,
): Promise<PublishOutcome[]> {
  const outcomes = new Array<PublishOutcome | undefined>(messages.length).fill(undefined);
  let remaining = messages.length;
  let allSettled!: () => void;
  const settled = new Promise<void>((resolve) => (allSettled = resolve));
  const settle = (index: number, outcome: PublishOutcome) => {
    if (outcomes[index] !== undefined) return;
    outcomes[index] = outcome;
    if (--remaining === 0) allSettled();
  };
  if (remaining === 0) allSettled();
  const socket = corkableSocket(channel, messages.length);
  for (let index = 0; index < messages.length; index++) {
    if (index % PUBLISH_CHUNK === 0) {
      if (index > 0) await socket.flush(); // lets requests in between a long batch
      socket.cork();
    }
    const { routingKey, content, options } = messages[index]!;
    try {
      // In the trace the message carries, so a tracer's publish span joins it.
      const writable = withTraceOf(
        traceFieldsOf(options.headers as Record<string, unknown> | undefined),
        () =>
          channel.publish(
            exchange,
            routingKey,
            content,
            { ...options, mandatory: true },
            (error: unknown) =>
              settle(
                index,
                error ? 'failed' : returns.take(options.messageId) ? 'returned' : 'confirmed',
              ),
          ),
      );
      if (!writable) {
        socket.uncork(); // a corked socket would never drain
        await drained(channel);
      }
    } catch {
      // The channel closed under us: this message and the rest were never sent.
      for (let rest = index; rest < messages.length; rest++) settle(rest, 'failed');
      break;
    }
  }
  void socket.flush();
  handedOver();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    settled,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
  return outcomes.map((outcome) => outcome ?? 'failed');
}

/** Messages encoded or published between two turns of the event loop. */
export const PUBLISH_CHUNK = 64;

interface CorkableSocket {
  cork(): void;
  /** Safe to call when not corked. */
  uncork(): void;
  /** Resolves once amqplib has handed what was published to the socket, and uncorks it. */
  flush(): Promise<void>;
}

/**
 * Holds the connection's socket writes back while a chunk of a batch is published, so its
 * messages leave in one write instead of one system call each (amqplib writes every message on
 * its own, and on a busy machine each write wakes the broker).
 */
function corkableSocket(channel: ConfirmChannel, messages: number): CorkableSocket {
  const socket = (channel as unknown as { connection?: { stream?: Partial<Writable> } }).connection
    ?.stream;
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    socket!.uncork!();
  };
  if (messages < 2 || typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function')
    return { cork: () => undefined, uncork, flush: () => Promise.resolve() };
  return {
    cork() {
      if (corked) return;
      corked = true;
      socket.cork!();
    },
    uncork,
    // amqplib's muxer moves frames to the socket with a setImmediate scheduled from the
    // channel's next tick: release after it.
    flush: () =>
      new Promise<void>((resolve) =>
        process.nextTick(() =>
          setImmediate(() => {
            uncork();
            resolve();
          }),
        ),
      ),
  };
}

/** Resolves when the channel's socket buffer has drained, or the channel has closed. */
function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}

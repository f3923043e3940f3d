import { busHeaders, parkingQueueName, queueSuffix } from '@meetmatt/contracts';
import {
  type BrokerConnection,
  type OutgoingMessage,
  ReturnTracker,
  keptProperties,
  publishConfirmed,
} from '@meetmatt/infra';

type ChannelModel = Awaited<ReturnType<BrokerConnection['whenConnected']>>;
type ConfirmChannel = Awaited<ReturnType<ChannelModel['createConfirmChannel']>>;
type Message = Exclude<Awaited<ReturnType<ConfirmChannel['get']>>, false>;

/** A parked message as an operator reads it: the bus's headers, then the body. */
export interface ParkedMessage {
  messageId: string | undefined;
  /** The routing key it was first published with: the event type. */
  routingKey: string | undefined;
  exchange: string | undefined;
  reason: string | undefined;
  attempts: number | undefined;
  error: string | undefined;
  parkedAt: string | undefined;
  /** The consumer queue it was parked from, where a redrive sends it back. */
  parkedFrom: string | undefined;
  body: unknown;
}

export interface QueueStats {
  queue: string;
  messages: number;
  consumers: number;
}

/** `q` or `q.dlq` → both names. */
export function parkingNames(queue: string): { queue: string; dlq: string } {
  const base = queue.endsWith(queueSuffix.dlq) ? queue.slice(0, -queueSuffix.dlq.length) : queue;
  return { queue: base, dlq: parkingQueueName(base) };
}

/** Headers dropped from a redriven copy: the broker's dead-lettering trail and the bus's failure record. */
const DROPPED_HEADERS = new Set<string>([
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
  busHeaders.attempts,
  busHeaders.error,
  busHeaders.parkedReason,
  busHeaders.parkedAt,
  busHeaders.parkedFrom,
]);

/**
 * The parking queues (`<queue>.dlq`, see infra/src/messaging/topology.ts) over plain AMQP:
 * reading one takes its messages without acknowledging them and closes the channel, which puts
 * them all back; a redrive publishes a copy to the consumer queue, waits for the broker's
 * confirm, and only then acknowledges (removes) the parked one.
 */
export class ParkingLot {
  constructor(private readonly broker: BrokerConnection) {}

  /** Messages and consumers of a queue; undefined when it does not exist. */
  async stats(queue: string): Promise<QueueStats | undefined> {
    return this.withChannel(async (channel) => {
      try {
        const ok = await channel.checkQueue(queue);
        return { queue, messages: ok.messageCount, consumers: ok.consumerCount };
      } catch (error) {
        if (/NOT_FOUND|404/.test((error as Error).message)) return undefined;
        throw error;
      }
    });
  }

  /** Up to `limit` parked messages, left where they are. */
  async peek(dlq: string, limit: number): Promise<ParkedMessage[]> {
    return this.withChannel(async (channel) => (await take(channel, dlq, limit)).map(describe));
  }

  /**
   * Sends parked messages back to the queue they were parked from (or `to`), with their original
   * message id and routing headers and a clean failure record, so the consumer tries them afresh
   * and its inbox still recognises what it already handled. `ids` narrows to those message ids.
   */
  async redrive(
    dlq: string,
    options: { ids?: Set<string>; limit: number; to?: string; onProgress?: (done: number) => void },
  ): Promise<{ redriven: ParkedMessage[]; failed: { message: ParkedMessage; outcome: string }[] }> {
    return this.withChannel(async (channel) => {
      const returns = ReturnTracker.attach(channel);
      // Looking for given ids means looking at everything; otherwise only as many as wanted.
      const messages = await take(
        channel,
        dlq,
        options.ids ? Number.MAX_SAFE_INTEGER : options.limit,
      );
      const chosen = messages
        .filter((m) => !options.ids || options.ids.has(String(m.properties.messageId)))
        .slice(0, options.limit);
      const redriven: ParkedMessage[] = [];
      const failed: { message: ParkedMessage; outcome: string }[] = [];
      const fallback = parkingNames(dlq).queue;
      for (let i = 0; i < chosen.length; i += 100) {
        const batch = chosen.slice(i, i + 100);
        const copies = batch.map((m, j) =>
          copyOf(m, options.to ?? describe(m).parkedFrom ?? fallback, `${dlq}:${i + j}`),
        );
        const outcomes = await publishConfirmed(channel, returns, '', copies, 10_000);
        batch.forEach((message, j) => {
          const outcome = outcomes[j]!;
          if (outcome === 'confirmed') {
            channel.ack(message);
            redriven.push(describe(message));
          } else {
            failed.push({
              message: describe(message),
              outcome:
                outcome === 'returned'
                  ? `queue ${copies[j]!.routingKey} does not exist`
                  : 'not confirmed by the broker',
            });
          }
        });
        options.onProgress?.(redriven.length);
      }
      return { redriven, failed };
    });
  }

  /** Removes every parked message; returns how many there were. */
  async purge(dlq: string): Promise<number> {
    return this.withChannel(async (channel) => (await channel.purgeQueue(dlq)).messageCount);
  }

  /** One channel per operation; closing it returns whatever was taken and not acknowledged. */
  private async withChannel<T>(work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
    const model = await this.broker.whenConnected();
    const channel = await model.createConfirmChannel();
    // A failed passive declare closes the channel with an error event; the operation's promise
    // carries the error, so the event itself needs no more than a listener.
    channel.on('error', () => undefined);
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}

/** Takes up to `limit` messages without acknowledging them (at most as many as were there). */
async function take(channel: ConfirmChannel, queue: string, limit: number): Promise<Message[]> {
  const { messageCount } = await channel.checkQueue(queue);
  const messages: Message[] = [];
  const wanted = Math.min(limit, messageCount);
  while (messages.length < wanted) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) break;
    messages.push(message);
  }
  return messages;
}

function describe(message: Message): ParkedMessage {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const text = message.content.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a malformed message is parked as it came): show the text.
  }
  const attempts = headers[busHeaders.attempts];
  return {
    messageId:
      typeof message.properties.messageId === 'string' ? message.properties.messageId : undefined,
    routingKey: str(headers[busHeaders.originalRoutingKey]) ?? str(message.properties.type),
    exchange: str(headers[busHeaders.originalExchange]),
    reason: str(headers[busHeaders.parkedReason]),
    attempts: attempts === undefined ? undefined : Number(attempts),
    error: str(headers[busHeaders.error]),
    parkedAt: str(headers[busHeaders.parkedAt]),
    parkedFrom: str(headers[busHeaders.parkedFrom]),
    body,
  };
}

function str(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

function copyOf(message: Message, queue: string, fallbackId: string): OutgoingMessage {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {}))
    if (!DROPPED_HEADERS.has(name)) headers[name] = value;
  const kept = keptProperties(message.properties);
  const messageId =
    typeof message.properties.messageId === 'string' ? message.properties.messageId : fallbackId;
  return {
    routingKey: queue,
    content: message.content,
    options: { ...kept, messageId, persistent: true, headers },
  };
}

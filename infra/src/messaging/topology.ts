import { type Channel } from 'amqplib';
import { parkingQueueName, retryQueueName, services } from '@meetmatt/contracts';

/** Where a consumer queue takes its messages from: routing keys (event types) on an exchange. */
export interface Binding {
  exchange: string;
  routingKey: string;
}

/** Everything one consumer needs on the broker, derived from its queue name. */
export interface ConsumerTopology {
  queue: string;
  bindings: readonly Binding[];
  retryQueues: readonly { name: string; delayMs: number }[];
  parkingQueue: string;
  /** Where the consumer publishes retry and parked copies (failureExchangeName). */
  failureExchange: string;
}

/**
 * The direct exchange a consumer's failed messages travel through, to its retry and parking
 * queues and back from a retry queue to the consumer queue (published copies and dead-lettering
 * alike), each queue bound under its own name. Not the default exchange: publishing there, or
 * declaring a queue that dead-letters there, needs write permission on `amq.default`, which
 * would let a service put a message in any queue of any other service, past the exchange that
 * owns its type. Named under the queue, so the service's broker user may write to it.
 */
export function failureExchangeName(queue: string): string {
  return `${queue}.failures`;
}

/**
 * Quorum queues survive a broker restart with every confirmed message and are what RabbitMQ
 * recommends for durable work queues. An explicit delivery limit and dead-letter target keep the
 * behaviour the same on 3.10 (no limit by default) and 4.x (limit 20, and messages past it are
 * dropped unless a dead-letter target is set): a message that keeps killing its consumer before
 * the ack ends up parked rather than looping or vanishing. `at-least-once` dead-lettering (which
 * requires `reject-publish` overflow) keeps a message until the target queue has confirmed it.
 */
const QUORUM = { 'x-queue-type': 'quorum' } as const;
const SAFE_DEAD_LETTERING = {
  'x-dead-letter-strategy': 'at-least-once',
  'x-overflow': 'reject-publish',
} as const;
export const DELIVERY_LIMIT = 20;

/**
 * A consumer believes an event type only from the exchange of the service that owns it: a
 * binding of `payment.confirmed` on user.events would let user-service make the brain deploy.
 * The broker refuses such a binding to a service's own user (topic permissions, see
 * scripts/src/lib/service-accounts.ts); this refuses it in code as well, where the broker is
 * administered by hand or shared (guest in tests).
 */
export function assertOwnedBindings(bindings: readonly Binding[]): void {
  for (const { exchange, routingKey } of bindings) {
    const owner = Object.values(services).find((service) => service.exchange === exchange);
    if (owner && !routingKey.startsWith(`${owner.streamPrefix}.`))
      throw new Error(
        `${routingKey} cannot be taken from ${exchange}: ${owner.name} publishes only ${owner.streamPrefix}.* there`,
      );
  }
}

export function consumerTopology(
  queue: string,
  bindings: readonly Binding[],
  retryDelaysMs: readonly number[],
): ConsumerTopology {
  assertOwnedBindings(bindings);
  const delays = [...new Set(retryDelaysMs)];
  return {
    queue,
    bindings,
    retryQueues: delays.map((delayMs) => ({ name: retryQueueName(queue, delayMs), delayMs })),
    parkingQueue: parkingQueueName(queue),
    failureExchange: failureExchangeName(queue),
  };
}

/** The durable topic exchange a service publishes its events to (routing key = event type). */
export async function declareExchange(channel: Channel, exchange: string): Promise<void> {
  await channel.assertExchange(exchange, 'topic', { durable: true });
}

/**
 * Declares the queue, its bindings, its retry queues and its parking queue. Idempotent (the same
 * arguments every time), so it runs on every (re)connect: a broker that lost its definitions, or a
 * queue deleted by hand, comes back. Changing a queue's arguments later needs a new queue name or
 * a policy: RabbitMQ refuses to redeclare a queue with different arguments.
 */
export async function declareConsumerTopology(
  channel: Channel,
  topology: ConsumerTopology,
): Promise<void> {
  const { queue, parkingQueue } = topology;
  // First, so a consumer queue without its failure exchange is one of the old layout, which
  // dead-lettered through amq.default (scripts/src/lib/service-accounts.ts).
  await channel.assertExchange(topology.failureExchange, 'direct', { durable: true });
  await channel.assertQueue(parkingQueue, { durable: true, arguments: { ...QUORUM } });
  await channel.assertQueue(queue, {
    durable: true,
    arguments: {
      ...QUORUM,
      ...SAFE_DEAD_LETTERING,
      'x-delivery-limit': DELIVERY_LIMIT,
      'x-dead-letter-exchange': topology.failureExchange,
      'x-dead-letter-routing-key': parkingQueue,
    },
  });
  // A TTL queue only expires messages at its head, so every delay has its own queue; expired
  // messages go back to the consumer queue through the failure exchange.
  for (const retry of topology.retryQueues) {
    await channel.assertQueue(retry.name, {
      durable: true,
      arguments: {
        ...QUORUM,
        ...SAFE_DEAD_LETTERING,
        'x-message-ttl': retry.delayMs,
        'x-dead-letter-exchange': topology.failureExchange,
        'x-dead-letter-routing-key': queue,
      },
    });
  }
  for (const target of [queue, parkingQueue, ...topology.retryQueues.map((r) => r.name)]) {
    await channel.bindQueue(target, topology.failureExchange, target);
  }
  for (const exchange of new Set(topology.bindings.map((b) => b.exchange))) {
    await declareExchange(channel, exchange);
  }
  for (const binding of topology.bindings) {
    await channel.bindQueue(queue, binding.exchange, binding.routingKey);
  }
}

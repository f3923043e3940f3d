import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { type CloudEvent, exchanges } from '@meetmatt/contracts';
import { type RecordedEvent, toCloudEvent, toMessage } from '@meetmatt/infra';
import { eventually } from '@meetmatt/infra/testing';

/**
 * The test's own view of the bus in its vhost: a queue bound to everything the brain publishes,
 * and a publisher of payment events built exactly as the payment service's relay builds them.
 */
export class TestBus {
  readonly received: CloudEvent[] = [];

  private constructor(
    private readonly model: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async open(vhostUrl: string): Promise<TestBus> {
    const model = await amqp.connect(vhostUrl);
    model.on('error', () => undefined);
    const channel = await model.createChannel();
    await channel.assertExchange(exchanges.brain, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchanges.brain, '#');
    const bus = new TestBus(model, channel);
    await channel.consume(
      queue,
      (message) => {
        if (message) bus.received.push(JSON.parse(message.content.toString('utf8')) as CloudEvent);
      },
      { noAck: true },
    );
    return bus;
  }

  /** What the brain published about one agent, in order. */
  of(agentId: string): CloudEvent[] {
    return this.received.filter((e) => e.subject === `agent-${agentId}`);
  }

  async waitFor(
    what: string,
    predicate: (event: CloudEvent) => boolean,
    timeoutMs = 15_000,
  ): Promise<CloudEvent> {
    return eventually(what, () => this.received.find(predicate) ?? false, timeoutMs);
  }

  /**
   * Publishes a payment event the way the payment service's relay does: the stored event's
   * CloudEvent, its id as the message id, the type as the routing key; `copies` times.
   */
  async publishPayment(
    type: string,
    data: { paymentId: string; userId: string } & Record<string, unknown>,
    options: { id?: string; copies?: number; revision?: number } = {},
  ): Promise<CloudEvent> {
    const recorded: RecordedEvent = {
      id: options.id ?? randomUUID(),
      type,
      data,
      metadata: {
        correlationId: randomUUID(),
        causationId: randomUUID(),
        userId: data.userId,
        schemaVersion: 1,
      },
      streamId: `payment-${data.paymentId}`,
      revision: options.revision ?? 3,
      position: { commit: 1n, prepare: 1n },
      createdAt: new Date(),
    };
    const event = toCloudEvent(recorded, 'payment-service');
    const message = toMessage(event);
    const confirm = await this.model.createConfirmChannel();
    await confirm.assertExchange(exchanges.payment, 'topic', { durable: true });
    for (let i = 0; i < (options.copies ?? 1); i++)
      confirm.publish(exchanges.payment, message.routingKey, message.content, message.options);
    await confirm.waitForConfirms();
    await confirm.close();
    return event;
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.model.close().catch(() => undefined);
  }
}

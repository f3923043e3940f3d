import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { type BillingDetails, exchanges, userEventTypes } from '@meetmatt/contracts';
import { type RecordedEvent, toCloudEvent, toMessage } from '@meetmatt/infra';

/**
 * Publishes `user.billing-details-changed` the way the user service's relay does (its stored
 * event as a CloudEvent, the id as the message id, the type as the routing key), `copies` times.
 */
export async function publishBillingDetails(
  vhostUrl: string,
  userId: string,
  billing: BillingDetails | null,
  options: { changedAt?: string; copies?: number } = {},
): Promise<void> {
  const recorded: RecordedEvent = {
    id: randomUUID(),
    type: userEventTypes.billingDetailsChanged,
    data: { userId, billing, changedAt: options.changedAt ?? new Date().toISOString() },
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), userId, schemaVersion: 1 },
    streamId: `user-${userId}`,
    revision: 1,
    position: { commit: 1n, prepare: 1n },
    createdAt: new Date(),
  };
  const message = toMessage(toCloudEvent(recorded, 'user-service'));
  const connection = await amqp.connect(vhostUrl);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchanges.user, 'topic', { durable: true });
    for (let i = 0; i < (options.copies ?? 1); i++)
      channel.publish(exchanges.user, message.routingKey, message.content, message.options);
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

import { WrongExpectedRevisionError } from '../event-store/errors';
import { type EventStore, type NewEvent } from '../event-store/types';

/**
 * The other idempotent handler: append to a stream whose id the message determines (one
 * `agent-<paymentId>` per payment, say) expecting it not to exist yet. A redelivery finds the
 * stream there, and the conflict means the work was already done.
 */
export async function appendToNewStream(
  store: EventStore,
  streamId: string,
  events: NewEvent[],
): Promise<'processed' | 'duplicate'> {
  try {
    await store.appendToStream(streamId, events, { expectedRevision: 'no_stream' });
    return 'processed';
  } catch (error) {
    if (error instanceof WrongExpectedRevisionError) return 'duplicate';
    throw error;
  }
}

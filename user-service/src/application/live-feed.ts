import { type UserEvent, userEventTypes } from '@meetmatt/contracts';
import {
  type EventCatalog,
  type EventStore,
  type Logger,
  type Position,
  type RecordedEvent,
  START,
  type Subscription,
} from '@meetmatt/infra';

export type FeedEvent = Extract<
  UserEvent,
  { type: 'user.session-revoked' | 'user.api-key-revoked' | 'user.notification-created' }
>;

/**
 * The service listening to its own store: session and API-key revocations (so every instance
 * refuses a revoked session's tokens within a moment, without asking the database on each
 * request) and new notifications (pushed to the SSE streams open on this instance, whichever
 * instance created them).
 */
export class LiveFeed {
  private subscription: Subscription | undefined;
  private failed: Error | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly catalog: EventCatalog<UserEvent>,
    private readonly logger: Logger,
    private readonly handle: (event: FeedEvent, recorded: RecordedEvent) => void,
  ) {}

  start(from: Position | undefined): void {
    this.subscription = this.store.subscribeToAll({
      from: from ?? START,
      filter: {
        eventTypes: [
          userEventTypes.sessionRevoked,
          userEventTypes.apiKeyRevoked,
          userEventTypes.notificationCreated,
        ],
      },
      batchSize: 500,
      onEvents: async (events) => {
        for (const recorded of events) {
          try {
            this.handle(this.catalog.toDomain(recorded) as FeedEvent, recorded);
          } catch (error) {
            this.logger.error('live feed could not handle an event', {
              eventId: recorded.id,
              type: recorded.type,
              error: (error as Error).message,
            });
          }
        }
      },
    });
    this.subscription.done.catch((error: Error) => {
      this.failed = error;
      this.logger.error('live feed stopped', { error: error.message });
    });
  }

  /** For /readyz: revocations reach this instance only while the feed runs. */
  check(): void {
    if (!this.subscription || this.failed)
      throw new Error(
        `live feed ${this.failed ? `failed: ${this.failed.message}` : 'not started'}`,
      );
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}

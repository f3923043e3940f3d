import { type Kysely } from 'kysely';
import { type UserEvent, userEventTypes } from '@meetmatt/contracts';
import {
  type EventCatalog,
  type EventStore,
  type Logger,
  type Position,
  type Projections,
  type RecordedEvent,
  START,
  type Subscription,
  comparePositions,
} from '@meetmatt/infra';
import { type ReadModelTables } from '../database';
import { revokedSince } from '../projections/revocation-queries';
import { type ApiKeyCache } from './api-key-cache';
import { type NotificationHub } from './notification-hub';
import { type Revocations } from './revocations';
import { type VerifyCaller } from './verify-caller';

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
  /** Notifications waiting for the read models, pushed in order behind one another. */
  private pushes: Promise<void> = Promise.resolve();

  /**
   * `settled` waits (bounded) until the read models have passed a position: a notification is
   * pushed only once the list shows it, so a client that lists on a push finds what was pushed.
   * Revocations never wait: they take effect the moment they are seen.
   */
  constructor(
    private readonly store: EventStore,
    private readonly catalog: EventCatalog<UserEvent>,
    private readonly logger: Logger,
    private readonly handle: (event: FeedEvent, recorded: RecordedEvent) => void,
    private readonly settled: (position: Position) => Promise<unknown> = async () => undefined,
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
        const notifications: RecordedEvent[] = [];
        for (const recorded of events) {
          if (recorded.type === userEventTypes.notificationCreated) notifications.push(recorded);
          else this.react(recorded);
        }
        const last = notifications[notifications.length - 1];
        if (!last) return;
        // Off the subscription, so a revocation behind them is not held up.
        this.pushes = this.pushes
          .then(() => this.settled(last.position))
          .catch(() => undefined)
          .then(() => notifications.forEach((recorded) => this.react(recorded)));
      },
    });
    this.subscription.done.catch((error: Error) => {
      this.failed = error;
      this.logger.error('live feed stopped', { error: error.message });
    });
  }

  private react(recorded: RecordedEvent): void {
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

  /** For /readyz: revocations reach this instance only while the feed runs. */
  check(): void {
    if (!this.subscription || this.failed)
      throw new Error(
        `live feed ${this.failed ? `failed: ${this.failed.message}` : 'not started'}`,
      );
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    await this.pushes;
  }
}

/**
 * What this instance does with each live event: a revoked session or key is refused from now on
 * (and a revoked key's cached credential and verdicts forgotten); a new notification goes to the
 * user's open streams.
 */
export function feedReactions(deps: {
  revocations: Revocations;
  apiKeys: ApiKeyCache;
  verifyCaller: VerifyCaller;
  hub: NotificationHub;
}): (event: FeedEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'user.session-revoked':
        deps.revocations.add(event.data.sessionId, event.data.revokedAt);
        break;
      case 'user.api-key-revoked':
        deps.apiKeys.drop(event.data.keyId);
        deps.verifyCaller.forget(event.data.keyId);
        deps.revocations.add(event.data.keyId, event.data.revokedAt);
        break;
      case 'user.notification-created': {
        const d = event.data;
        deps.hub.publish(d.userId, {
          id: d.notificationId,
          kind: d.kind,
          title: d.title,
          body: d.body,
          link: d.link,
          correlationId: d.correlationId,
          read: false,
          createdAt: d.createdAt,
        });
        break;
      }
    }
  };
}

/**
 * What was revoked before this instance started (from the read models), and the position the
 * live feed must start from so that nothing revoked since is missed: the older of the two
 * read models' checkpoints, read before the tables (so the tables are at least that recent).
 */
export async function loadRevocations(deps: {
  projections: Pick<Projections<ReadModelTables>, 'status'>;
  db: Kysely<ReadModelTables>;
  revocations: Revocations;
  windowMs: number;
}): Promise<Position | undefined> {
  const status = await deps.projections.status();
  const checkpoints = status
    .filter((s) => s.name === 'sessions' || s.name === 'api_keys')
    .map((s) => s.position)
    .sort(comparePositions);
  const since = new Date(Date.now() - deps.windowMs);
  for (const { id, revokedAt } of await revokedSince(deps.db, since))
    deps.revocations.add(id, revokedAt);
  return checkpoints.length === 2 ? checkpoints[0] : undefined;
}

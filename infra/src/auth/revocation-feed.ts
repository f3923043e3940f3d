import { type EventUnion, exchanges, userEvents } from '@meetmatt/contracts';
import { type ConsumedEvent } from '../messaging/consumed-event';
import { type Consumer, type HandlerResult } from '../messaging/consumer';
import { pollUntil } from '../runtime/poll';
import { type ServiceHost } from '../runtime/service-host';
import { type RevocationList } from './revocation-list';
import { type RevokedCredential, RevokedCredentials } from './revoked-credentials';

/** The user-service events that end a credential's access tokens. */
export const revocationEvents = [userEvents.sessionRevoked, userEvents.apiKeyRevoked] as const;
export type RevocationEvent = ConsumedEvent<EventUnion<typeof revocationEvents>>;

export interface RevocationFeedOptions {
  /** The service's queue for user.events revocations, from `queues` in contracts. */
  queue: string;
  list: RevocationList;
  /** How often an instance reads what the others recorded (default 250 ms: well within 1 s). */
  pollMs?: number;
  /** How far each read reaches back before the previous one (default 30 s). */
  overlapMs?: number;
  /** How often recorded revocations past the window are deleted (default 1 minute). */
  pruneEveryMs?: number;
  /** How long start() waits for the queue's backlog to be handled (default 3 s). */
  backlogWaitMs?: number;
}

/**
 * Revocation at a service that does not issue tokens (payment, brain), within a second.
 *
 * Why this shape: user-service publishes `user.session-revoked` and `user.api-key-revoked` on
 * `user.events`. The service's one durable queue hands each to a single instance, which adds it
 * to its in-memory list at once and records it in the service's own database; every other
 * instance reads new rows every `pollMs`, and an instance that starts later loads the rows of
 * the last token lifetime before it serves, since the broker cannot replay what was consumed.
 * Checking a token stays a map lookup; nothing asks user-service on the request path, so a
 * user-service outage does not take payment or brain down. A revocation never expires early:
 * rows and entries are dropped only once every token issued before it has expired.
 */
export class RevocationFeed {
  private readonly store: RevokedCredentials;
  private since: Date | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private failing = false;
  private lastPrune = 0;
  private consumerValue: Consumer | undefined;

  private constructor(
    private readonly host: ServiceHost<unknown>,
    private readonly options: RevocationFeedOptions,
  ) {
    this.store = new RevokedCredentials(host.database.pool);
  }

  /**
   * Loads the recent revocations, then consumes and polls. Resolves once the list holds every
   * revocation recorded so far: call it before the service starts serving requests.
   */
  static async start<DB>(
    host: ServiceHost<DB>,
    options: RevocationFeedOptions,
  ): Promise<RevocationFeed> {
    const feed = new RevocationFeed(host as unknown as ServiceHost<unknown>, options);
    await feed.load();
    host.metrics.gauge(
      'revocations_in_memory',
      'Revoked sessions and API keys whose tokens this instance refuses',
      [],
      (g) => g.set(options.list.size),
    );
    feed.consumerValue = host.consume({
      queue: options.queue,
      exchange: exchanges.user,
      events: revocationEvents,
      handle: (event) => feed.onEvent(event),
    }) as unknown as Consumer;
    host.onStop(() => feed.stop());
    feed.schedule();
    await feed.drainBacklog(options.backlogWaitMs ?? 3_000);
    return feed;
  }

  /** The queue's consumer (tests wait until it is consuming). */
  get consumer(): Consumer | undefined {
    return this.consumerValue;
  }

  /** The consumer's handler: refuse at once here, then tell the other instances. */
  async onEvent(event: RevocationEvent): Promise<HandlerResult> {
    const credential = credentialOf(event);
    this.options.list.add(credential.id, credential.revokedAt);
    const added = await this.store.record(credential);
    this.host.logger.info('credential revoked', {
      kind: credential.kind,
      credentialId: credential.id,
      userId: credential.userId,
    });
    return added ? 'processed' : 'duplicate';
  }

  /** One read of what other instances recorded (the timer calls it; tests may too). */
  async poll(): Promise<void> {
    const overlapMs = this.options.overlapMs ?? 30_000;
    const from = new Date((this.since ?? new Date(0)).getTime() - overlapMs);
    const { rows, readAt } = await this.store.recordedSince(from);
    for (const row of rows) this.options.list.add(row.id, row.revokedAt);
    this.since = readAt;
    const pruneEveryMs = this.options.pruneEveryMs ?? 60_000;
    if (readAt.getTime() - this.lastPrune >= pruneEveryMs) {
      this.lastPrune = readAt.getTime();
      await this.store.prune(this.options.list.windowMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.options.list.stop();
    await this.polling;
  }

  private async load(): Promise<void> {
    const { rows, readAt } = await this.store.revokedWithin(this.options.list.windowMs);
    for (const row of rows) this.options.list.add(row.id, row.revokedAt);
    this.since = readAt;
    this.lastPrune = readAt.getTime();
  }

  /**
   * Revocations made while no instance of the service ran wait in its queue, not in the table:
   * they are handled before the service serves. Bounded, so a broker outage delays no start
   * (the revocations then arrive as soon as it is back).
   */
  private async drainBacklog(timeoutMs: number): Promise<void> {
    const consumer = this.consumerValue;
    const connection = this.host.broker.connection;
    if (!consumer || !connection || this.host.broker.state !== 'connected') return;
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let channel: Awaited<ReturnType<typeof connection.createChannel>> | undefined;
    try {
      await consumer.whenConsuming(abort.signal);
      const open = (channel = await connection.createChannel());
      open.on('error', () => undefined);
      // Twice empty in a row: a message handed to the consumer is neither ready nor handled yet.
      let empty = 0;
      let queued = 0;
      const drained = await pollUntil(
        async () => {
          queued = (await open.checkQueue(this.options.queue)).messageCount;
          empty = queued === 0 && consumer.handling === 0 ? empty + 1 : 0;
          return empty >= 2;
        },
        { timeoutMs: deadline - Date.now(), intervalMs: 20 },
      );
      if (!drained.passed) throw new Error(`${queued} still queued`);
    } catch (error) {
      this.host.logger.warn('starting before the revocation backlog was handled', {
        queue: this.options.queue,
        error: (error as Error).message,
      });
    } finally {
      clearTimeout(timer);
      await channel?.close().catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .then(() => {
          if (this.failing) this.host.logger.info('revocations readable again');
          this.failing = false;
        })
        .catch((error: Error) => {
          // Once per outage: the poll runs four times a second.
          if (!this.failing)
            this.host.logger.warn('cannot read recorded revocations, retrying', {
              error: error.message,
            });
          this.failing = true;
        })
        .finally(() => {
          this.polling = undefined;
          this.schedule();
        });
    }, this.options.pollMs ?? 250);
    this.timer.unref();
  }
}

function credentialOf(event: RevocationEvent): RevokedCredential {
  switch (event.type) {
    case 'user.session-revoked':
      return {
        id: event.data.sessionId,
        kind: 'session',
        userId: event.data.userId,
        revokedAt: new Date(event.data.revokedAt),
      };
    case 'user.api-key-revoked':
      return {
        id: event.data.keyId,
        kind: 'api_key',
        userId: event.data.userId,
        revokedAt: new Date(event.data.revokedAt),
      };
    default: {
      const unexpected: never = event;
      throw new Error(`not a revocation: ${(unexpected as { type: string }).type}`);
    }
  }
}

import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import { dedicatedClient, destroySocket, endClient } from '../db/dedicated-client';
import { type Logger } from '../logging/logger';
import { sleep } from '../runtime/backoff';

export interface LeaderLockOptions {
  /** The database whose advisory locks coordinate the instances of one service. */
  connectionString: string;
  /** What is being led, e.g. `projection:payments` or `relay`. */
  key: string;
  logger?: Logger;
  /** How often a follower tries to take over. */
  retryMs?: number;
  /**
   * How often the leader checks its lock's connection with a round trip. A connection the
   * server terminated announces itself; one to a server (or through a proxy) that went silent
   * does not, and the check is what ends that leadership.
   */
  heartbeatMs?: number;
}

/** Two 32-bit halves of a SHA-256 of the key: advisory locks take a pair of ints. */
export function advisoryKey(key: string): [number, number] {
  const digest = createHash('sha256').update(key).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/**
 * One leader among the instances of a service, through a PostgreSQL session advisory lock held
 * on a connection of its own. The server releases the lock when that connection dies, so a
 * crashed leader is replaced within `retryMs`; the work is told to stop (its signal aborts) as
 * soon as this instance notices the connection is gone.
 *
 * Losing the connection is never fatal: the work is told to stop, and the loop tries to lead
 * again with the next connection it can make (re-acquired as soon as the server is back).
 *
 * The lock makes double work rare, not impossible (a leader that lost its connection may still
 * be finishing a batch), so the work itself stays safe under overlap: projections check their
 * checkpoint inside each transaction, consumers deduplicate.
 */
export class LeaderLock {
  private stopped = false;
  private client: pg.Client | undefined;
  private readonly stopping = new AbortController();
  private leading = false;

  constructor(private readonly options: LeaderLockOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Runs `work` whenever this instance leads, until `stop()`. `work` must return soon after its
   * signal aborts. Resolves when stopped.
   */
  async run(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const { logger, key } = this.options;
    while (!this.stopped) {
      const client = await this.tryAcquire();
      if (!client) {
        await sleep(this.options.retryMs ?? 2_000, this.stopping.signal);
        continue;
      }
      const controller = new AbortController();
      // One signal for all the leader's work: every worker waiting on it adds a listener, and
      // more than ten at once (a build tracker with eleven builds) is normal, not a leak.
      setMaxListeners(1_000, controller.signal);
      const onLost = (error?: Error) => {
        if (!controller.signal.aborted) {
          if (!this.stopped) logger?.warn('leadership lost', { key, error: error?.message });
          controller.abort(error ?? new Error('leader connection closed'));
        }
      };
      client.on('error', onLost);
      client.on('end', () => onLost());
      this.leading = true;
      logger?.info('leading', { key });
      const heartbeat = this.heartbeat(client, controller.signal);
      try {
        await work(controller.signal);
      } catch (error) {
        if (!controller.signal.aborted)
          logger?.error('leader work failed', { key, error: (error as Error).message });
      } finally {
        this.leading = false;
        controller.abort();
        await heartbeat;
        await this.release(client);
      }
      if (!this.stopped) await sleep(200, this.stopping.signal);
    }
  }

  /** Ends leadership; `run`'s work sees its signal abort through the closed connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    const client = this.client;
    if (client) await endClient(client);
  }

  /** A round trip every `heartbeatMs` while leading; a failed one cuts the connection. */
  private async heartbeat(client: pg.Client, signal: AbortSignal): Promise<void> {
    const everyMs = this.options.heartbeatMs ?? 5_000;
    while (!signal.aborted) {
      await sleep(everyMs, signal);
      if (signal.aborted) return;
      try {
        await client.query('SELECT 1');
      } catch (error) {
        if (signal.aborted) return;
        this.options.logger?.warn('leader lock connection not answering', {
          key: this.options.key,
          error: (error as Error).message,
        });
        destroySocket(client);
        return;
      }
    }
  }

  private async tryAcquire(): Promise<pg.Client | undefined> {
    const client = dedicatedClient({
      connectionString: this.options.connectionString,
      applicationName: `leader:${this.options.key}`,
      // Its statements are instant; one unanswered for two heartbeats means a hung server.
      queryTimeoutMs: Math.max(1_000, 2 * (this.options.heartbeatMs ?? 5_000)),
      connectTimeoutMs: Math.min(5_000, Math.max(1_000, 2 * (this.options.heartbeatMs ?? 5_000))),
    });
    try {
      await client.connect();
      const [a, b] = advisoryKey(this.options.key);
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS locked',
        [a, b],
      );
      if (rows[0]?.locked && !this.stopped) {
        this.client = client;
        return client;
      }
    } catch (error) {
      this.options.logger?.debug('leader lock not reachable', {
        key: this.options.key,
        error: (error as Error).message,
      });
    }
    await endClient(client);
    return undefined;
  }

  private async release(client: pg.Client): Promise<void> {
    this.client = undefined;
    // Closing the session releases the lock.
    await endClient(client);
  }
}

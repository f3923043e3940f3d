import type pg from 'pg';
import { dedicatedClient, endClient } from '../../db/dedicated-client';
import { type Logger } from '../../logging/logger';
import { backoffDelay } from '../../runtime/backoff';

export const EVENTS_CHANNEL = 'es_events';

/**
 * Wakes subscribers when events are appended, without busy polling.
 *
 * In-process appends wake local waiters at once. Other processes learn through LISTEN/NOTIFY,
 * but the NOTIFY is sent after the append has committed, not inside its transaction: a
 * transaction that notifies takes a database-wide lock through its commit, which serializes
 * every appender (measured here: 4.8k vs 19.3k inserts/s with 16 writers). Remote notifications
 * are throttled to one per `throttleMs`; waiters always have a polling fallback, so a lost
 * notification only delays delivery.
 */
export class ChangeNotifier {
  private readonly waiters = new Set<() => void>();
  /** Counts changes, so a reader that was busy when one came does not then sleep through it. */
  private generationValue = 0;
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private closed = false;
  private lastNotify = 0;
  private notifyTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connectionString: string | undefined,
    private readonly logger: Logger | undefined,
    private readonly throttleMs = 5,
  ) {}

  /** Read before reading the store; pass to `wait` afterwards. */
  get generation(): number {
    return this.generationValue;
  }

  /**
   * Resolves at the next change, or after `timeoutMs`; at once when a change came after
   * `seenGeneration` (while the caller was reading).
   */
  wait(timeoutMs: number, seenGeneration?: number): Promise<void> {
    this.ensureListening();
    if (seenGeneration !== undefined && seenGeneration !== this.generationValue)
      return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Called after this process committed an append. */
  appended(): void {
    this.wakeAll();
    this.notifyOthers();
  }

  /** Wakes this process's waiters only (a subscription that is stopping). */
  wakeLocal(): void {
    this.wakeAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.notifyTimer);
    clearTimeout(this.reconnectTimer);
    this.wakeAll();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await endClient(listener);
  }

  private wakeAll(): void {
    this.generationValue += 1;
    for (const wake of [...this.waiters]) wake();
  }

  private notifyOthers(): void {
    if (this.closed || this.notifyTimer) return;
    const wait = Math.max(0, this.lastNotify + this.throttleMs - Date.now());
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      this.lastNotify = Date.now();
      this.pool.query(`SELECT pg_notify('${EVENTS_CHANNEL}', '')`).catch((error: Error) => {
        this.logger?.debug('event notification not sent', { error: error.message });
      });
    }, wait);
  }

  private ensureListening(): void {
    if (this.closed || this.listening || !this.connectionString) return;
    this.listening = this.listen().catch((error: Error) => {
      this.logger?.warn('event listener unavailable, polling until it is back', {
        error: error.message,
      });
      this.scheduleReconnect();
    });
  }

  private async listen(): Promise<void> {
    const client = dedicatedClient({
      connectionString: this.connectionString!,
      applicationName: 'event-listener',
    });
    client.on('error', (error) => {
      this.logger?.warn('event listener connection lost', { error: error.message });
      void endClient(client);
      if (this.listener === client) {
        this.listener = undefined;
        this.scheduleReconnect();
      }
    });
    client.on('notification', () => this.wakeAll());
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    if (this.closed) {
      await endClient(client);
      return;
    }
    this.listener = client;
    this.attempt = 0;
    // Whatever was appended while we were not listening is found by the next read.
    this.wakeAll();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.attempt += 1;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        this.listening = undefined;
        this.ensureListening();
      },
      backoffDelay(this.attempt, 200, 5_000),
    );
    this.reconnectTimer.unref();
  }
}

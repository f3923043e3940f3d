import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import { type Logger } from '../logging/logger';
import { backoffDelay, sleep } from '../runtime/backoff';

export type BrokerState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface BrokerConnectionOptions {
  url: string;
  logger: Logger;
  /** Names the connection in the broker's management UI. */
  name: string;
  heartbeatSeconds?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * One AMQP connection that comes back by itself. amqplib gives up on a connection once it
 * closes; this reconnects with capped exponential backoff and jitter, and emits `connected`
 * each time so publishers and consumers can redeclare their topology and resume.
 */
export class BrokerConnection extends EventEmitter {
  private model: ChannelModel | undefined;
  private stateValue: BrokerState = 'disconnected';
  private lastErrorValue: string | undefined;
  private attempt = 0;
  private loop: Promise<void> | undefined;
  private readonly closing = new AbortController();
  reconnects = 0;

  constructor(private readonly options: BrokerConnectionOptions) {
    super();
  }

  get state(): BrokerState {
    return this.stateValue;
  }

  get lastError(): string | undefined {
    return this.lastErrorValue;
  }

  /** The live connection, or undefined while reconnecting. */
  get connection(): ChannelModel | undefined {
    return this.stateValue === 'connected' ? this.model : undefined;
  }

  /** Starts the connect loop; resolves at the first connection or after `timeoutMs` (still retrying). */
  async start(timeoutMs = 5_000): Promise<boolean> {
    if (!this.loop) this.loop = this.run();
    if (this.stateValue === 'connected') return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        resolve(false);
      }, timeoutMs);
      const onConnected = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('connected', onConnected);
    });
  }

  /** Resolves once connected (or rejects when closed). */
  async whenConnected(): Promise<ChannelModel> {
    for (;;) {
      if (this.stateValue === 'closed') throw new Error('broker connection closed');
      const model = this.connection;
      if (model) return model;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.off('connected', done);
          this.off('closed', done);
          resolve();
        };
        this.on('connected', done);
        this.on('closed', done);
      });
    }
  }

  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.emit('closed');
    this.closing.abort();
    const model = this.model;
    this.model = undefined;
    // A broker that stopped answering never acknowledges the close: the socket is cut instead.
    if (model) {
      const closed = await settlesWithin(model.close(), CLOSE_TIMEOUT_MS);
      if (!closed) destroyConnection(model);
    }
    await settlesWithin(this.loop ?? Promise.resolve(), CLOSE_TIMEOUT_MS);
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    while (this.stateValue !== 'closed') {
      this.stateValue = 'connecting';
      try {
        const model = await amqp.connect(
          withHeartbeat(this.options.url, this.options.heartbeatSeconds ?? 10),
          socketOptions(this.options.name),
        );
        if ((this.stateValue as BrokerState) === 'closed') {
          await model.close().catch(() => undefined);
          return;
        }
        const lost = new Promise<Error | undefined>((resolve) => {
          model.on('error', (error: Error) => {
            this.lastErrorValue = error.message;
          });
          model.on('close', (error?: Error) => resolve(error));
          model.on('blocked', (reason: string) =>
            logger.warn('broker blocked the connection', { reason }),
          );
        });
        this.model = model;
        this.stateValue = 'connected';
        if (this.attempt > 0 || this.reconnects > 0) logger.info('broker connected again');
        this.attempt = 0;
        this.lastErrorValue = undefined;
        this.emit('connected', model);
        const error = await lost;
        this.model = undefined;
        if ((this.stateValue as BrokerState) === 'closed') return;
        this.stateValue = 'disconnected';
        this.lastErrorValue = error?.message ?? 'connection closed';
        this.reconnects += 1;
        logger.warn('broker connection lost', { error: this.lastErrorValue });
        this.emit('disconnected', error);
      } catch (error) {
        // close() while connecting: the failed attempt must not overwrite the closed state.
        if ((this.stateValue as BrokerState) === 'closed') return;
        this.stateValue = 'disconnected';
        this.lastErrorValue = (error as Error).message;
        if (this.attempt === 0)
          logger.warn('broker unreachable, retrying', { error: this.lastErrorValue });
      }
      this.attempt += 1;
      const delay = backoffDelay(
        this.attempt,
        this.options.minDelayMs ?? 200,
        this.options.maxDelayMs ?? 5_000,
      );
      await sleep(delay, this.closing.signal);
    }
  }
}

const CLOSE_TIMEOUT_MS = 2_000;

/** Whether `promise` settled (either way) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

function destroyConnection(model: ChannelModel): void {
  (
    model as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
}

/** Heartbeats detect a dead broker within seconds rather than at the next write. */
function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

/**
 * The broker socket's options. Besides amqplib's own, `writableHighWaterMark` goes to the
 * socket: amqplib stops handing frames to the socket once that much is buffered, and a batch the
 * relay publishes with the socket corked (confirm-publisher.ts) must fit, or the rest of it
 * would leave one system call per message.
 */
function socketOptions(name: string): object {
  return {
    clientProperties: { connection_name: name },
    timeout: 5_000,
    writableHighWaterMark: 1 << 20,
  };
}

import { EventEmitter } from 'node:events';
import { type ConfirmChannel } from 'amqplib';
import { type Logger } from '../logging/logger';
import { backoffDelay, sleep } from '../runtime/backoff';
import { abortable } from './abortable';
import { type BrokerConnection, settlesWithin } from './broker-connection';

export interface ManagedChannelOptions {
  broker: BrokerConnection;
  logger: Logger;
  /** Names the channel in logs, e.g. the queue it consumes. */
  name: string;
  /** Runs on every fresh channel before it is handed out: topology, prefetch, consumers. */
  setup(channel: ConfirmChannel): Promise<void>;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** A channel that lived this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_MS = 5_000;

/**
 * One confirm channel kept open on a BrokerConnection. A channel dies with its connection and
 * also on its own (a channel error such as a refused declaration, or `reset()` after a failure
 * that leaves its state unknown); either way a fresh one is opened and set up again, with
 * backoff, until `stop()`.
 */
export class ManagedChannel extends EventEmitter {
  private channel: ConfirmChannel | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private lastErrorValue: string | undefined;
  opens = 0;

  constructor(private readonly options: ManagedChannelOptions) {
    super();
    this.setMaxListeners(0);
  }

  /** The open channel, or undefined while (re)opening. */
  get current(): ConfirmChannel | undefined {
    return this.channel;
  }

  get lastError(): string | undefined {
    return this.lastErrorValue;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** The open channel, waiting for one (through broker outages) unless `signal` aborts first. */
  async whenOpen(signal?: AbortSignal): Promise<ConfirmChannel> {
    this.start();
    if (this.channel) return this.channel;
    const opened = new Promise<ConfirmChannel>((resolve, reject) => {
      const onOpen = (channel: ConfirmChannel) => {
        this.off('stopped', onStopped);
        resolve(channel);
      };
      const onStopped = () => {
        this.off('open', onOpen);
        reject(new Error(`channel ${this.options.name} stopped`));
      };
      this.once('open', onOpen);
      this.once('stopped', onStopped);
    });
    return abortable(opened, signal);
  }

  /**
   * Closes the current channel; the loop opens a fresh one. With `only`, closes it only if it is
   * still that channel: a failure seen on a channel that has since been replaced says nothing
   * about its successor.
   */
  async reset(reason: string, only?: ConfirmChannel): Promise<void> {
    const channel = this.channel;
    if (!channel || (only && channel !== only)) return;
    this.lastErrorValue = reason;
    this.channel = undefined;
    await channel.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.emit('stopped');
    const channel = this.channel;
    this.channel = undefined;
    // A channel close the broker never answers must not hold a shutdown.
    if (channel) await settlesWithin(channel.close(), 2_000);
    await settlesWithin(this.loop ?? Promise.resolve(), 2_000);
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    let attempt = 0;
    while (!signal.aborted) {
      const openedAt = Date.now();
      try {
        const model = await abortable(this.options.broker.whenConnected(), signal);
        await this.serve(await model.createConfirmChannel(), signal);
      } catch (error) {
        if (signal.aborted || this.options.broker.state === 'closed') break;
        this.lastErrorValue = (error as Error).message;
        this.options.logger.warn('channel failed, reopening', {
          channel: this.options.name,
          error: this.lastErrorValue,
        });
      }
      attempt = Date.now() - openedAt > HEALTHY_MS ? 1 : attempt + 1;
      const { minDelayMs = 100, maxDelayMs = 5_000 } = this.options;
      await sleep(backoffDelay(attempt, minDelayMs, maxDelayMs), signal);
    }
  }

  /** Sets the channel up, hands it out, and returns when it closes. */
  private async serve(channel: ConfirmChannel, signal: AbortSignal): Promise<void> {
    const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
    // Without a listener an 'error' event would throw; the close that follows is what matters.
    channel.on('error', (error: Error) => (this.lastErrorValue = error.message));
    try {
      await this.options.setup(channel);
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    if (signal.aborted) {
      await channel.close().catch(() => undefined);
      return;
    }
    this.channel = channel;
    this.opens += 1;
    this.lastErrorValue = undefined;
    this.emit('open', channel);
    await closed;
    if (this.channel === channel) this.channel = undefined;
    if (!signal.aborted) {
      this.options.logger.warn('channel closed, reopening', {
        channel: this.options.name,
        error: this.lastErrorValue,
      });
    }
  }
}

/* eslint-disable no-console -- the process boundary: config errors are printed before any logger exists */
import { ConfigError } from '../config/load-config';
import { isUnavailableError } from '../db/unavailable';
import { type Logger } from '../logging/logger';
import { shutdownTracing } from '../tracing/propagation';

export interface RunningService {
  url: string;
  port: number;
  logger: Logger;
  stop(): Promise<void>;
}

/** The default bound on a whole stop; SHUTDOWN_TIMEOUT_MS overrides it. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

function shutdownTimeoutMs(): number {
  const configured = Number(process.env.SHUTDOWN_TIMEOUT_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_SHUTDOWN_TIMEOUT_MS;
}

/**
 * The process-level shell around a service's `start()`: a configuration error prints one line
 * and exits 1 before any port opens; SIGTERM/SIGINT stop gracefully, and the process exits
 * within SHUTDOWN_TIMEOUT_MS whatever hangs (a hard timer, armed first). An uncaught exception or
 * unhandled rejection is logged and stops the process (its state can no longer be trusted),
 * except a lost or refused connection: every connection is re-made where it is used, so one
 * that escaped its handler is logged, not fatal.
 */
export function runMain(name: string, start: () => Promise<RunningService>): void {
  let service: RunningService | undefined;
  let stopping = false;

  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    const watchdog = setTimeout(() => {
      console.error(`${name}: graceful stop took too long, exiting`);
      process.exit(code || 1);
    }, shutdownTimeoutMs());
    watchdog.unref();
    service?.logger.info('stopping', { reason });
    try {
      await service?.stop();
    } catch (error) {
      console.error(`${name}: error while stopping: ${(error as Error).message}`);
      code ||= 1;
    }
    // The spans still batched (the last requests and messages) go out before the process does.
    await shutdownTracing();
    process.exit(code);
  };

  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('uncaughtException', (error) => {
    if (isUnavailableError(error)) {
      (service?.logger ?? console).warn('connection error outside any handler', {
        error: error.message,
        stack: error.stack,
      });
      return;
    }
    (service?.logger ?? console).error('uncaught exception', {
      error: error.message,
      stack: error.stack,
    });
    void stop('uncaughtException', 1);
  });
  process.on('unhandledRejection', (reason) => {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    if (isUnavailableError(error)) {
      (service?.logger ?? console).warn('connection error outside any handler', {
        error: error.message,
        stack: error.stack,
      });
      return;
    }
    (service?.logger ?? console).error('unhandled rejection', {
      error: error.message,
      stack: error.stack,
    });
    void stop('unhandledRejection', 1);
  });

  start().then(
    (running) => {
      service = running;
      running.logger.info(`${name} listening`, { url: running.url });
      process.send?.({ type: 'ready', service: name, url: running.url });
    },
    (error: unknown) => {
      if (error instanceof ConfigError) {
        console.error(`${name}: ${error.message}`);
      } else {
        console.error(
          `${name}: failed to start: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      process.exit(1);
    },
  );
}

import { type Kysely } from 'kysely';
import { type Database, createDatabase, ensureDatabase, redactUrl } from '../db/database';
import { type Migrations, migrate } from '../db/migrations';
import { infraMigrations } from '../db/infra-migrations';
import { type Logger, createLogger } from '../logging/logger';
import { BrokerConnection } from '../messaging/broker-connection';
import { Metrics } from '../metrics/metrics';
import { type ReadinessCheck } from '../http/readiness';
import { type RunningServer, startHttpServer } from '../http/server';
import { type RequestListener } from 'node:http';
import { createEventStore } from '../event-store/create-event-store';
import { type EventStore } from '../event-store/types';

export interface ServiceHostConfig {
  PORT: number;
  HOST: string;
  DATABASE_URL: string;
  RABBITMQ_URL: string;
  EVENTSTORE_URL?: string | undefined;
  LOG_LEVEL: string;
  LOG_FORMAT?: 'json' | 'pretty' | undefined;
  SHUTDOWN_TIMEOUT_MS: number;
}

export interface ServiceHostOptions {
  name: string;
  config: ServiceHostConfig;
  migrations: Migrations;
  logger?: Logger;
}

type Cleanup = () => Promise<void> | void;

/**
 * The shared runtime of a service: logger, metrics, database (created and migrated), broker
 * connection, and an ordered shutdown. A service's composition root builds its own pieces on
 * top and registers their cleanup with `onStop`, which runs in reverse order.
 */
export class ServiceHost<DB = unknown> {
  private readonly cleanups: Cleanup[] = [];
  private readonly checks: ReadinessCheck[] = [];
  private server: RunningServer | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly config: ServiceHostConfig,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly database: Database<DB>,
    readonly broker: BrokerConnection,
    readonly eventStore: EventStore,
  ) {}

  static async create<DB>(options: ServiceHostOptions): Promise<ServiceHost<DB>> {
    const { name, config } = options;
    const logger =
      options.logger ??
      createLogger({
        service: name,
        level: config.LOG_LEVEL,
        ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}),
      });
    const metrics = new Metrics(name);
    await ensureDatabase(config.DATABASE_URL);
    const database = createDatabase<DB>({
      url: config.DATABASE_URL,
      logger,
      applicationName: name,
    });
    try {
      await migrateAll(database.db as Kysely<unknown>, options.migrations);
    } catch (error) {
      await database.close();
      throw new Error(`database ${redactUrl(config.DATABASE_URL)}: ${(error as Error).message}`);
    }
    const broker = new BrokerConnection({ url: config.RABBITMQ_URL, logger, name });
    const eventStore = createEventStore({
      eventStoreUrl: config.EVENTSTORE_URL,
      pool: database.pool,
      databaseUrl: config.DATABASE_URL,
      logger,
    });
    const host = new ServiceHost<DB>(name, config, logger, metrics, database, broker, eventStore);
    host.onStop(() => database.close());
    host.onStop(() => broker.close());
    host.onStop(() => eventStore.close());
    host.addReadiness({ name: 'database', check: () => database.ping() });
    if (eventStore.kind !== 'postgres') host.addReadiness({ name: 'eventstore', check: () => eventStore.ping() });
    host.addReadiness({
      name: 'broker',
      check: async () => {
        if (broker.state !== 'connected')
          throw new Error(broker.lastError ?? `broker ${broker.state}`);
      },
    });
    metrics.gauge(
      'broker_connected',
      'Whether the broker connection is up (1) or not (0)',
      [],
      (g) => {
        g.set(broker.state === 'connected' ? 1 : 0);
      },
    );
    metrics.gauge('broker_reconnects_total', 'Broker reconnections since start', [], (g) => {
      g.set(broker.reconnects);
    });
    // The service starts even when the broker is down: events are stored and relayed later.
    await broker.start(3_000);
    return host;
  }

  addReadiness(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  get readiness(): ReadinessCheck[] {
    return this.checks;
  }

  /** Registers cleanup; cleanups run in reverse order of registration. */
  onStop(cleanup: Cleanup): void {
    this.cleanups.push(cleanup);
  }

  async listen(handler: RequestListener, port = this.config.PORT): Promise<RunningServer> {
    this.server = await startHttpServer(handler, { port, host: this.config.HOST });
    return this.server;
  }

  /** Stops accepting requests, finishes in-flight ones, then closes everything else. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.server?.close(this.config.SHUTDOWN_TIMEOUT_MS);
      for (const cleanup of [...this.cleanups].reverse()) {
        try {
          await cleanup();
        } catch (error) {
          this.logger.warn('error during shutdown', { error: (error as Error).message });
        }
      }
      this.logger.info('stopped');
    })();
    return this.stopping;
  }
}

/** Infra's tables first, then the service's own. */
export async function migrateAll(db: Kysely<unknown>, migrations: Migrations): Promise<void> {
  await migrate(db, 'infra', infraMigrations);
  await migrate(db, 'service', migrations);
}

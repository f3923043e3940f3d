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
import { type EventDefinition } from '@meetmatt/contracts';
import { CheckpointStore } from '../coordination/checkpoint-store';
import { createEventStore } from '../event-store/create-event-store';
import { type EventCatalog } from '../event-store/event-catalog';
import { type EventStore, type Position } from '../event-store/types';
import { Consumer, type ConsumerOptions } from '../messaging/consumer';
import { consumersReadiness, relayReadiness } from '../messaging/readiness';
import { Relay, type RelayOptions } from '../messaging/relay';
import { type Projection } from '../projections/projection';
import { Projections } from '../projections/projection-set';
import { type WaitResult } from '../projections/wait';

export interface ServiceHostConfig {
  PORT: number;
  HOST: string;
  DATABASE_URL: string;
  RABBITMQ_URL: string;
  EVENTSTORE_URL?: string | undefined;
  LOG_LEVEL: string;
  LOG_FORMAT?: 'json' | 'pretty' | undefined;
  SHUTDOWN_TIMEOUT_MS: number;
  READ_YOUR_WRITES_TIMEOUT_MS: number;
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
  private projectionSet: Projections<DB> | undefined;
  private readonly consumers: Consumer[] = [];
  private relayValue: Relay | undefined;

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
    if (eventStore.kind !== 'postgres')
      host.addReadiness({ name: 'eventstore', check: () => eventStore.ping() });
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

  /**
   * Starts the service's projections (one leader per projection across instances), with their
   * readiness, metrics and shutdown. Call once, before serving requests.
   */
  async startProjections(
    projections: Projection[],
    catalog?: EventCatalog,
  ): Promise<Projections<DB>> {
    if (this.projectionSet) throw new Error('projections already started');
    const set = new Projections<DB>({
      db: this.database.db,
      store: this.eventStore,
      connectionString: this.config.DATABASE_URL,
      catalog,
      logger: this.logger,
      metrics: this.metrics,
      projections,
    });
    this.projectionSet = set;
    this.addReadiness(set.readiness());
    this.onStop(() => set.stop());
    await set.start();
    return set;
  }

  get projections(): Projections<DB> | undefined {
    return this.projectionSet;
  }

  /**
   * Read-your-writes for command endpoints: waits (READ_YOUR_WRITES_TIMEOUT_MS at most) until the
   * service's projections have passed `position`, so the client's next read sees its write.
   */
  async waitForProjections(position: Position | undefined): Promise<WaitResult> {
    if (!this.projectionSet || !position) return { ok: true, pending: [] };
    const result = await this.projectionSet.waitFor(
      position,
      this.config.READ_YOUR_WRITES_TIMEOUT_MS,
    );
    if (!result.ok) this.logger.warn('projections behind the write', { pending: result.pending });
    return result;
  }

  /** Starts publishing every event of the service's store to its exchange (one relay per service). */
  startRelay(options: Pick<RelayOptions, 'exchange'> & Partial<RelayOptions>): Relay {
    if (this.relayValue) throw new Error('relay already started');
    const relay = new Relay({
      service: this.name,
      eventStore: this.eventStore,
      checkpoints: new CheckpointStore(this.database.pool),
      broker: this.broker,
      databaseUrl: this.config.DATABASE_URL,
      logger: this.logger,
      metrics: this.metrics,
      ...options,
    });
    this.relayValue = relay;
    this.addReadiness(relayReadiness(relay));
    this.onStop(() => relay.stop());
    relay.start();
    return relay;
  }

  get relay(): Relay | undefined {
    return this.relayValue;
  }

  /** Starts a consumer of another service's events; all consumers share one readiness check. */
  consume<Defs extends readonly EventDefinition[]>(
    options: Omit<ConsumerOptions<Defs>, 'broker' | 'logger' | 'metrics'>,
  ): Consumer<Defs> {
    const consumer = new Consumer<Defs>({
      ...options,
      broker: this.broker,
      logger: this.logger,
      metrics: this.metrics,
    });
    if (this.consumers.length === 0) this.addReadiness(consumersReadiness(this.consumers));
    this.consumers.push(consumer as unknown as Consumer);
    this.onStop(() => consumer.stop());
    consumer.start();
    return consumer;
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

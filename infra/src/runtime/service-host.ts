import { type Kysely } from 'kysely';
import {
  type Database,
  createDatabase,
  ensureDatabase,
  redactUrl,
  withTimeout,
} from '../db/database';
import { type Migrations, migrate } from '../db/migrations';
import { infraMigrations } from '../db/infra-migrations';
import { type Logger, createLogger } from '../logging/logger';
import { BrokerConnection } from '../messaging/broker-connection';
import { Metrics, withAppendMetrics } from '../metrics/metrics';
import { registerBrokerMetrics } from '../messaging/messaging-metrics';
import { type ReadinessCheck, degradesOnly } from '../http/readiness';
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
import { Housekeeping, inboxPruneTask } from './housekeeping';
import { Liveness } from './liveness';
import { HopTrace } from '../messaging/hop-trace';

export interface ServiceHostConfig {
  PORT: number;
  HOST: string;
  DATABASE_URL: string;
  RABBITMQ_URL: string;
  EVENTSTORE_URL?: string | undefined;
  LOG_LEVEL: string;
  LOG_FORMAT?: 'json' | 'pretty' | undefined;
  /** The whole of a graceful stop; past it the process exits anyway (run-main.ts). */
  SHUTDOWN_TIMEOUT_MS: number;
  READ_YOUR_WRITES_TIMEOUT_MS: number;
  DATABASE_STATEMENT_TIMEOUT_MS?: number;
  DATABASE_LOCK_TIMEOUT_MS?: number;
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS?: number;
  DATABASE_POOL_TIMEOUT_MS?: number;
  REQUEST_TIMEOUT_MS?: number;
  LIVENESS_STUCK_MS?: number;
  HOUSEKEEPING_INTERVAL_MS?: number;
  INBOX_RETENTION_MS?: number;
  /** The source commit, shown in `build_info` (set by the image build or the deployment). */
  BUILD_COMMIT?: string | undefined;
  /** Where the relay and the consumers write their hop times (`npm run bench -- flow`); unset, nowhere. */
  BUS_HOP_TRACE_FILE?: string | undefined;
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
  private readonly housekeepingValue: Housekeeping;
  private shuttingDown = false;
  readonly liveness: Liveness;
  private readonly hopTrace: HopTrace | undefined;

  private constructor(
    readonly name: string,
    readonly config: ServiceHostConfig,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly database: Database<DB>,
    readonly broker: BrokerConnection,
    readonly eventStore: EventStore,
  ) {
    this.liveness = new Liveness({
      pool: database.pool,
      stuckMs: config.LIVENESS_STUCK_MS ?? 30_000,
    });
    this.housekeepingValue = new Housekeeping({
      connectionString: config.DATABASE_URL,
      logger,
      intervalMs: config.HOUSEKEEPING_INTERVAL_MS ?? 3_600_000,
      tasks: [
        inboxPruneTask(
          database.db as Kysely<unknown>,
          config.INBOX_RETENTION_MS ?? 14 * 86_400_000,
        ),
      ],
    });
    this.hopTrace = HopTrace.open(config.BUS_HOP_TRACE_FILE);
    const trace = this.hopTrace;
    // Registered first, so closed last: after the relay and the consumers have stopped.
    if (trace) this.onStop(() => trace.close());
  }

  static async create<DB>(options: ServiceHostOptions): Promise<ServiceHost<DB>> {
    const { name, config } = options;
    const logger =
      options.logger ??
      createLogger({
        service: name,
        level: config.LOG_LEVEL,
        ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}),
      });
    const metrics = new Metrics(name, { build: { commit: config.BUILD_COMMIT } });
    await ensureDatabase(config.DATABASE_URL);
    // Migrations may build indexes or wait for another instance's migration: no request bounds.
    const migrator = createDatabase({
      url: config.DATABASE_URL,
      logger,
      max: 1,
      applicationName: `${name}:migrate`,
      statementTimeoutMs: 0,
      lockTimeoutMs: 0,
    });
    try {
      await migrateAll(migrator.db, options.migrations);
    } catch (error) {
      throw new Error(`database ${redactUrl(config.DATABASE_URL)}: ${(error as Error).message}`);
    } finally {
      await migrator.close();
    }
    const database = createDatabase<DB>({
      url: config.DATABASE_URL,
      logger,
      applicationName: name,
      ...definedTimeouts(config),
    });
    const broker = new BrokerConnection({ url: config.RABBITMQ_URL, logger, name });
    const eventStore = withAppendMetrics(
      createEventStore({
        eventStoreUrl: config.EVENTSTORE_URL,
        pool: database.pool,
        databaseUrl: config.DATABASE_URL,
        logger,
      }),
      metrics,
    );
    const host = new ServiceHost<DB>(name, config, logger, metrics, database, broker, eventStore);
    host.onStop(() => database.close());
    host.onStop(() => broker.close());
    host.onStop(() => eventStore.close());
    // Answers 503 from the first moment of a stop, so the balancer sends nothing new meanwhile.
    host.addReadiness({
      name: 'shutdown',
      check: async () => {
        if (host.shuttingDown) throw new Error('stopping');
      },
    });
    // Through the request pool: a pool whose connections are all stuck reads as not ready.
    host.addReadiness({ name: 'database', check: () => database.ping(1_500), timeoutMs: 2_000 });
    host.liveness.start();
    host.onStop(() => host.liveness.stop());
    host.housekeeping.start();
    host.onStop(() => host.housekeeping.stop());
    if (eventStore.kind !== 'postgres')
      host.addReadiness({ name: 'eventstore', check: () => eventStore.ping() });
    host.addReadiness({
      name: 'broker',
      check: async () => {
        if (broker.state !== 'connected')
          throw new Error(broker.lastError ?? `broker ${broker.state}`);
      },
    });
    registerBrokerMetrics(metrics, broker);
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
    this.addReadiness(degradesOnly(set.readiness()));
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
      ...(this.hopTrace ? { hopTrace: this.hopTrace } : {}),
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
      ...(this.hopTrace ? { hopTrace: this.hopTrace } : {}),
    });
    if (this.consumers.length === 0) this.addReadiness(consumersReadiness(this.consumers));
    this.consumers.push(consumer as unknown as Consumer);
    this.onStop(() => consumer.stop());
    consumer.start();
    return consumer;
  }

  /**
   * Prunes what would otherwise grow forever, on the one instance holding the `housekeeping`
   * lock: infra's inbox always; a service adds its own tables with `housekeeping.add(...)`.
   */
  get housekeeping(): Housekeeping {
    return this.housekeepingValue;
  }

  /** What createHttpApp needs from the host besides the service's own routes. */
  get http(): { liveness: Liveness; requestTimeoutMs: number | undefined } {
    return { liveness: this.liveness, requestTimeoutMs: this.config.REQUEST_TIMEOUT_MS };
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

  /**
   * Not ready at once; then stops accepting requests and lets in-flight ones finish (half the
   * budget at most), then runs the cleanups in reverse order, each bounded by what is left of
   * SHUTDOWN_TIMEOUT_MS, so a dependency that hangs cannot hold the stop. Resolves in time
   * whatever happens; run-main's hard timer is the last resort.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.shuttingDown = true;
      const budgetMs = Math.max(1_000, this.config.SHUTDOWN_TIMEOUT_MS - 1_000);
      const deadline = Date.now() + budgetMs;
      await this.server?.close(Math.floor(budgetMs / 2));
      for (const cleanup of [...this.cleanups].reverse()) {
        const leftMs = Math.max(100, deadline - Date.now());
        try {
          await withTimeout(
            Promise.resolve().then(cleanup),
            leftMs,
            'a shutdown step did not finish',
          );
        } catch (error) {
          this.logger.warn('error during shutdown', { error: (error as Error).message });
        }
      }
      this.logger.info('stopped');
    })();
    return this.stopping;
  }
}

function definedTimeouts(config: ServiceHostConfig) {
  const timeouts = {
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    connectionTimeoutMs: config.DATABASE_POOL_TIMEOUT_MS,
  };
  return Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)) as {
    [K in keyof typeof timeouts]?: number;
  };
}

/** Infra's tables first, then the service's own. */
export async function migrateAll(db: Kysely<unknown>, migrations: Migrations): Promise<void> {
  await migrate(db, 'infra', infraMigrations);
  await migrate(db, 'service', migrations);
}

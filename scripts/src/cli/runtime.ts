import { type ServiceKey } from '@meetmatt/contracts';
import {
  BrokerConnection,
  type Database,
  type EventStore,
  type Logger,
  type ProjectionContext,
  baseServiceConfig,
  createDatabase,
  createEventStore,
  createLogger,
  loadConfig,
  redactUrl,
} from '@meetmatt/infra';
import { z } from 'zod';
import { type SystemConfig, loadSystemConfig, serviceDatabaseUrl } from '../lib/system-config';
import { CliError, describeError } from './errors';
import { type Output } from './output';
import { type ServiceInfo, serviceInfo } from './services';

/** One service as the CLI reaches it: its database and its event store. */
export interface ServiceHandle {
  info: ServiceInfo;
  key: ServiceKey;
  databaseUrl: string;
  database: Database;
  store: EventStore;
  /** What the projection operations need (the service's catalog included). */
  projectionContext(): ProjectionContext;
}

const cliConfigSchema = z.object({ EVENTSTORE_URL: baseServiceConfig.EVENTSTORE_URL });

/**
 * The connections a command uses, opened on first use with the same variables as the services
 * and `npm start` (POSTGRES_URL, <SERVICE>_DATABASE_URL, RABBITMQ_URL, EVENTSTORE_URL), and
 * closed when the command ends. A resource that cannot be reached fails with one line naming it.
 */
export class Runtime {
  readonly logger: Logger;
  private systemValue: SystemConfig | undefined;
  private eventStoreUrl: string | undefined | null = null;
  private readonly handles = new Map<ServiceKey, Promise<ServiceHandle>>();
  private brokerValue: Promise<BrokerConnection> | undefined;

  constructor(
    readonly env: NodeJS.ProcessEnv,
    readonly out: Output,
    /** Aborted on Ctrl-C: long commands stop between steps and say where they stopped. */
    readonly signal: AbortSignal,
  ) {
    this.logger = createLogger({ service: 'meetmatt', level: 'silent' });
  }

  get system(): SystemConfig {
    this.systemValue ??= loadSystemConfig(this.env);
    return this.systemValue;
  }

  private get eventStore(): string | undefined {
    if (this.eventStoreUrl === null)
      this.eventStoreUrl = loadConfig(cliConfigSchema, this.env).EVENTSTORE_URL;
    return this.eventStoreUrl;
  }

  service(key: ServiceKey): Promise<ServiceHandle> {
    let handle = this.handles.get(key);
    if (!handle) {
      handle = this.open(key);
      // A failed open is reported by the caller; close() must not trip over it again.
      handle.catch(() => undefined);
      this.handles.set(key, handle);
    }
    return handle;
  }

  services(keys: readonly ServiceKey[]): Promise<ServiceHandle[]> {
    return Promise.all(keys.map((key) => this.service(key)));
  }

  private async open(key: ServiceKey): Promise<ServiceHandle> {
    const info = serviceInfo[key];
    const system = this.system;
    const eventStoreUrl = this.eventStore;
    const databaseUrl = serviceDatabaseUrl(system, key);
    const database = createDatabase({
      url: databaseUrl,
      logger: this.logger,
      applicationName: 'meetmatt-cli',
      max: 4,
    });
    const label = `${key} database`;
    try {
      await database.ping(5_000);
    } catch (error) {
      await database.close().catch(() => undefined);
      throw atResource(label, databaseUrl, error);
    }
    const store = createEventStore({
      eventStoreUrl,
      pool: database.pool,
      databaseUrl,
      logger: this.logger,
    });
    try {
      await store.ping();
    } catch (error) {
      await store.close().catch(() => undefined);
      await database.close().catch(() => undefined);
      if ((error as { code?: string }).code === '42P01')
        throw new CliError(
          `${label} ${redactUrl(databaseUrl)} has no event store (es_events): has ${info.name} ever run against it?`,
        );
      throw atResource(
        eventStoreUrl ? `${key} event store` : label,
        eventStoreUrl ?? databaseUrl,
        error,
      );
    }
    return {
      info,
      key,
      databaseUrl,
      database,
      store,
      projectionContext: () => ({
        db: database.db,
        store,
        connectionString: databaseUrl,
        catalog: info.catalog(),
        logger: this.logger,
      }),
    };
  }

  /** The broker connection (RABBITMQ_URL), connected, or one line saying why not. */
  broker(): Promise<BrokerConnection> {
    this.brokerValue ??= (async () => {
      const url = this.system.RABBITMQ_URL;
      const broker = new BrokerConnection({ url, logger: this.logger, name: 'meetmatt-cli' });
      if (!(await broker.start(5_000))) {
        const reason = broker.lastError ?? 'no answer within 5 s';
        await broker.close();
        throw new CliError(`RabbitMQ ${redactUrl(url)}: ${describeError(new Error(reason))}`);
      }
      return broker;
    })();
    this.brokerValue.catch(() => undefined);
    return this.brokerValue;
  }

  async close(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const handle of this.handles.values()) {
      closing.push(
        handle.then(
          async (h) => {
            await h.store.close().catch(() => undefined);
            await h.database.close().catch(() => undefined);
          },
          () => undefined,
        ),
      );
    }
    if (this.brokerValue)
      closing.push(
        this.brokerValue.then(
          (b) => b.close(),
          () => undefined,
        ),
      );
    await Promise.all(closing);
  }
}

/** Names where a failure happened: `payment database postgres://…/meetmatt_payment: …`. */
function atResource(label: string, url: string, error: unknown): CliError {
  return new CliError(`${label} ${redactUrl(url)}: ${describeError(error)}`);
}

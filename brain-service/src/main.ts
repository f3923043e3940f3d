// First: tracing patches http, express, pg and amqplib only if it loads before them.
import '@meetmatt/infra/tracing/register';
import { brainOpenApi, exchanges, queues, services } from '@meetmatt/contracts';
import {
  type Logger,
  type RunningService,
  ServiceHost,
  RevocationFeed,
  RevocationList,
  TokenVerifier,
  createHttpApp,
  runMain,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { Deployments } from './application/deployments';
import { AgentRepository, agentCatalog } from './application/agent-repository';
import { BuildTracker } from './application/build-tracker';
import { registerJourneyMetrics } from './application/journey-metrics';
import { consumedPaymentEvents, paymentEventsHandler } from './application/payment-events';
import { type BrainConfig, buildsIncludedFor, loadBrainConfig, maxAcuLimitFor } from './config';
import { DevinClient } from './devin';
import { agentRoutes } from './http/routes';
import { agentsProjection } from './projections/agents-projection';
import { type BrainDb } from './database';

export interface StartBrainOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningBrainService extends RunningService {
  config: BrainConfig;
  host: ServiceHost<BrainDb>;
  tracker: BuildTracker;
}

/** The composition root: the only place where the brain service's pieces are wired together. */
export async function start(options: StartBrainOptions = {}): Promise<RunningBrainService> {
  const config = loadBrainConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create<BrainDb>({
    name: services.brain.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const { logger, eventStore: store } = host;
    const db = host.database.db;
    const now = () => new Date();
    const agents = new AgentRepository(store);
    const policy = {
      repositoryOwner: config.AGENT_REPOSITORY_OWNER,
      buildsIncluded: (plan: string) => buildsIncludedFor(config, plan),
    };
    const devin = new DevinClient({
      apiUrl: config.DEVIN_API_URL,
      apiKey: config.DEVIN_API_KEY,
      timeoutMs: config.DEVIN_REQUEST_TIMEOUT_MS,
      retry: {
        maxAttempts: config.DEVIN_RETRY_ATTEMPTS,
        minDelayMs: config.DEVIN_RETRY_MIN_DELAY_MS,
        maxDelayMs: config.DEVIN_RETRY_MAX_DELAY_MS,
      },
      logger,
      metrics: host.metrics,
    });

    await host.startProjections([agentsProjection], agentCatalog);
    registerJourneyMetrics(host.metrics, db);
    host.consume({
      queue: queues.brainPaymentEvents,
      exchange: exchanges.payment,
      events: consumedPaymentEvents,
      handle: paymentEventsHandler({
        db,
        store,
        logger,
        policy,
        now,
      }),
    });
    host.startRelay({ exchange: exchanges.brain });

    const tracker = new BuildTracker({
      db,
      store,
      connectionString: config.DATABASE_URL,
      agents,
      devin,
      logger,
      metrics: host.metrics,
      now,
      scanIntervalMs: config.BUILD_SCAN_INTERVAL_MS,
      settings: {
        pollIntervalMs: config.DEVIN_POLL_INTERVAL_MS,
        pollMaxIntervalMs: config.DEVIN_POLL_MAX_INTERVAL_MS,
        deadlineMs: config.DEVIN_BUILD_DEADLINE_MS,
        providerErrorLimit: config.DEVIN_PROVIDER_ERROR_LIMIT,
        followUpMessage: config.DEVIN_FOLLOW_UP_MESSAGE,
        followUpLimit: config.DEVIN_FOLLOW_UP_LIMIT,
        maxAttempts: config.AGENT_BUILD_ATTEMPTS,
        maxAcuLimit: (plan) => maxAcuLimitFor(config, plan),
        repositoryOwner: config.AGENT_REPOSITORY_OWNER,
      },
    });
    tracker.start();
    host.onStop(() => tracker.stop());

    const deployments = new Deployments({
      db,
      agents,
      policy,
      now,
    });
    // Logged-out sessions and revoked API keys are refused here too, not only at the gateway.
    const revocations = new RevocationList(config.ACCESS_TOKEN_MAX_TTL_SECONDS);
    await RevocationFeed.start(host, { queue: queues.brainRevocations, list: revocations });
    const app = createHttpApp({
      service: services.brain.name,
      logger,
      metrics: host.metrics,
      readiness: host.readiness,
      ...host.http,
      openapi: brainOpenApi(),
      authenticator: new TokenVerifier({
        jwksUrl: config.AUTH_JWKS_URL,
        issuer: config.AUTH_ISSUER,
        audience: config.AUTH_AUDIENCE,
        revocations,
      }),
      routes: agentRoutes({
        db,
        deployments,
        buildsIncluded: policy.buildsIncluded,
        waitForProjections: (position) => host.waitForProjections(position),
      }),
    });
    const server = await host.listen(app);
    return {
      config,
      host,
      tracker,
      url: server.url,
      port: server.port,
      logger,
      stop: () => host.stop(),
    };
  } catch (error) {
    await host.stop();
    throw error;
  }
}

if (require.main === module) runMain(services.brain.name, () => start());

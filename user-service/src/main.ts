// First: tracing patches http, express, pg and amqplib only if it loads before them.
import '@meetmatt/infra/tracing/register';
import {
  GATEWAY_OPENAPI_SERVICE_PATH,
  type UserEvent,
  exchanges,
  gatewayOpenApi,
  queues,
  services,
  userEvents,
  userOpenApi,
} from '@meetmatt/contracts';
import {
  EventCatalog,
  Inbox,
  type Logger,
  type RunningService,
  ServiceHost,
  TokenVerifier,
  createHttpApp,
  runMain,
  startMail,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { loadUserHousekeepingConfig, userPruneTasks } from './application/housekeeping';
import { AccessTokens } from './application/access-tokens';
import { ApiKeyCache } from './application/api-key-cache';
import {
  consumedAgentEvents,
  consumedPaymentEvents,
  handleBusEvent,
} from './application/bus-events';
import { type UserDependencies } from './application/dependencies';
import { LiveFeed, feedReactions, loadRevocations } from './application/live-feed';
import { LoginThrottle } from './application/login-throttle';
import { mailPolicyEventTypes, mailsForUserEvent, userMailRenderers } from './application/mails';
import { NotificationHub } from './application/notification-hub';
import { HashGate, PasswordHasher } from './application/passwords';
import { AuthLimits } from './application/rate-limits';
import { Revocations } from './application/revocations';
import { loadKeyRing } from './application/signing-keys';
import { UsageRecorder } from './application/usage-recorder';
import { VerifyCaller } from './application/verify-caller';
import { type UserConfig, loadUserConfig } from './config';
import { type UserDb } from './database';
import { authRoutes } from './http/auth-routes';
import { notificationStreamRoute } from './http/notification-stream';
import { streamTicketRoutes } from './http/stream-ticket-routes';
import { userRoutes } from './http/user-routes';
import { projections } from './projections';

export interface StartUserOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningUserService extends RunningService {
  config: UserConfig;
  host: ServiceHost<UserDb>;
  /** The handlers' dependencies, for tests that look inside (flush usage, count revocations). */
  context: UserDependencies;
}

/** The composition root: the only place where the user service's pieces are wired together. */
export async function start(options: StartUserOptions = {}): Promise<RunningUserService> {
  const config = loadUserConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create<UserDb>({
    name: services.user.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const hub = new NotificationHub(config.NOTIFICATION_STREAMS_PER_USER);
  try {
    const db = host.database.db;
    const logger = host.logger;
    const catalog = new EventCatalog<UserEvent>(Object.values(userEvents));
    const keys = await loadKeyRing(config.AUTH_SIGNING_KEYS, db, logger);
    const audience = { issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE };
    // A revoked session's tokens live at most this long after the revocation.
    const revocationWindowMs =
      (Math.max(config.ACCESS_TOKEN_TTL_SECONDS, config.API_KEY_TOKEN_TTL_SECONDS) + 65) * 1000;
    const revocations = new Revocations(revocationWindowMs);
    host.onStop(() => revocations.stop());
    const tokens = new AccessTokens(
      keys,
      TokenVerifier.fromJwks(keys.jwks, audience),
      revocations,
      audience,
    );
    const apiKeys = new ApiKeyCache(db, config.API_KEY_CACHE_TTL_MS);
    const usage = new UsageRecorder(db, logger, config.USAGE_FLUSH_INTERVAL_MS);
    const limits = new AuthLimits(db, config.AUTH_RATE_LIMIT_WINDOW_SECONDS * 1000);
    limits.start();
    host.onStop(() => limits.stop());
    const passwords = new PasswordHasher(
      config.PASSWORD_SCRYPT_LOG_N,
      8,
      1,
      new HashGate({
        concurrency: config.PASSWORD_HASH_CONCURRENCY,
        queue: config.PASSWORD_HASH_QUEUE,
        waitMs: config.PASSWORD_HASH_WAIT_MS,
      }),
    );

    const mail = startMail(host, config, {
      renderers: userMailRenderers({ catalog, config, store: host.eventStore }),
      policy: {
        name: 'user-mail-policy',
        eventTypes: mailPolicyEventTypes,
        mailsFor: mailsForUserEvent,
      },
    });

    const ctx: UserDependencies = {
      config,
      store: host.eventStore,
      catalog,
      db,
      logger,
      metrics: host.metrics,
      passwords,
      throttle: new LoginThrottle(
        db,
        config.LOGIN_FAILURES_BEFORE_DELAY,
        config.LOGIN_MAX_DELAY_SECONDS,
      ),
      limits,
      tokens,
      revocations,
      apiKeys,
      usage,
      mail,
      waitForProjections: async (position) => {
        await host.waitForProjections(position);
      },
      now: () => new Date(),
    };

    const verifyCaller = new VerifyCaller({
      tokens,
      apiKeys,
      revocations,
      usage,
      apiKeyTokenTtlSeconds: config.API_KEY_TOKEN_TTL_SECONDS,
      outcomes: host.metrics.counter(
        'auth_verify_total',
        'Calls to /auth/verify by credential and outcome',
        ['credential', 'outcome'],
      ),
    });
    host.metrics.gauge('notification_streams_open', 'Open SSE notification streams', [], (g) =>
      g.set(hub.connections),
    );
    host.metrics.gauge(
      'password_hashes_in_progress',
      'Password hashes running and waiting for a slot',
      ['state'],
      (g) => {
        g.set({ state: 'running' }, passwords.load.running);
        g.set({ state: 'waiting' }, passwords.load.waiting);
      },
    );
    host.metrics.gauge(
      'revocations_in_memory',
      'Revoked sessions and keys held in memory',
      [],
      (g) => g.set(revocations.size),
    );

    const projectionSet = await host.startProjections(projections, catalog);
    host.housekeeping.add(
      ...userPruneTasks(
        ctx.db,
        ctx.store,
        loadUserHousekeepingConfig({ ...process.env, ...options.env }),
      ),
    );
    const feed = new LiveFeed(
      host.eventStore,
      catalog,
      logger,
      feedReactions({ revocations, apiKeys, verifyCaller, hub }),
      (position) => host.waitForProjections(position),
    );
    feed.start(
      await loadRevocations({
        projections: projectionSet,
        db,
        revocations,
        windowMs: revocationWindowMs,
      }),
    );
    host.onStop(() => feed.stop());
    host.addReadiness({ name: 'live-feed', check: async () => feed.check() });

    usage.start();
    host.onStop(() => usage.stop());

    host.startRelay({ exchange: services.user.exchange });
    const paymentInbox = new Inbox(db, queues.userPaymentEvents);
    host.consume({
      queue: queues.userPaymentEvents,
      exchange: exchanges.payment,
      events: consumedPaymentEvents,
      handle: (event) => handleBusEvent(ctx, paymentInbox, event),
    });
    const agentInbox = new Inbox(db, queues.userAgentEvents);
    host.consume({
      queue: queues.userAgentEvents,
      exchange: exchanges.brain,
      events: consumedAgentEvents,
      handle: (event) => handleBusEvent(ctx, agentInbox, event),
    });

    const app = createHttpApp({
      service: services.user.name,
      logger,
      metrics: host.metrics,
      readiness: host.readiness,
      ...host.http,
      openapi: userOpenApi(),
      // The gateway's /openapi.json (one document for the three services) is served from here.
      documents: { [GATEWAY_OPENAPI_SERVICE_PATH]: gatewayOpenApi() },
      authenticator: tokens,
      routes: (routes) => {
        authRoutes(routes, { ...ctx, keys, verifyCaller });
        notificationStreamRoute(routes, ctx, hub, config.SSE_HEARTBEAT_MS);
        streamTicketRoutes(routes, ctx, hub, {
          heartbeatMs: config.SSE_HEARTBEAT_MS,
          ticketTtlMs: config.STREAM_TICKET_TTL_MS,
        });
        userRoutes(routes, ctx);
      },
    });
    const server = await host.listen(app);
    return {
      config,
      host,
      context: ctx,
      url: server.url,
      port: server.port,
      logger,
      stop: async () => {
        // Open event streams would hold the server's graceful close for its whole timeout.
        hub.closeAll();
        await host.stop();
      },
    };
  } catch (error) {
    hub.closeAll();
    await host.stop();
    throw error;
  }
}

if (require.main === module) runMain(services.user.name, () => start());

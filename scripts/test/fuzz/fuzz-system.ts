import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { type UserEvent, userEvents } from '@meetmatt/contracts';
import { EventCatalog, type RunningService } from '@meetmatt/infra';
import {
  type CapturedLog,
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
  untilAnswering,
} from '@meetmatt/infra/testing';
import { start as startBrain } from '@meetmatt/brain-service';
import { createDevinSandbox } from '@meetmatt/brain-service/devin/index';
import { start as startPayment } from '@meetmatt/payment-service';
import { createNowPaymentsSandbox, signIpn } from '@meetmatt/payment-service/nowpayments/index';
import { start as startUser } from '@meetmatt/user-service';
import { changeRole } from '@meetmatt/user-service/application/roles';

export type ServiceKey = 'user' | 'payment' | 'brain';
export const serviceKeys: readonly ServiceKey[] = ['user', 'payment', 'brain'];

export interface FuzzSystem {
  urls: Record<ServiceKey, string>;
  ipnSecret: string;
  /** What the gateway proves itself with to /auth/verify. */
  gatewaySecret: string;
  /** Where each service's `$all` ends now (0 when empty). */
  heads(): Promise<Record<ServiceKey, number>>;
  /**
   * Rows of user-service tables a refused request must not leave behind either: the password
   * of a sign-up that failed, the secret of an API key that was never issued.
   */
  credentialRows(): Promise<number>;
  /** Events appended after `head` in one service's store, for a report. */
  eventsAfter(service: ServiceKey, head: number): Promise<{ stream: string; type: string }[]>;
  /** The logged error of a request (by X-Request-Id) that ended in a 5xx, with its stack. */
  errorOf(service: ServiceKey, requestId: string): string | undefined;
  /** `meetmatt users grant-admin`: the operator's way, through the user service's decider. */
  grantAdmin(userId: string): Promise<void>;
  signIpn(body: string): string;
  stop(): Promise<void>;
}

/**
 * The three services in this process, on port 0, against their own databases, one RabbitMQ vhost
 * (so events flow between them as in production) and the two provider sandboxes. No reconciler
 * and no stray timers that write on their own, so what a store gains comes from requests.
 */
export async function startFuzzSystem(): Promise<FuzzSystem> {
  const [vhost, ...dbs] = await Promise.all([
    createTestVhost('fuzz'),
    createTestDatabase('fuzz_user'),
    createTestDatabase('fuzz_payment'),
    createTestDatabase('fuzz_brain'),
  ]);
  const databases = { user: dbs[0], payment: dbs[1], brain: dbs[2] };
  const resources: { vhost: TestVhost; databases: Record<ServiceKey, TestDatabase> } = {
    vhost,
    databases,
  };
  const running: RunningService[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  const logs: Record<ServiceKey, CapturedLog[]> = { user: [], payment: [], brain: [] };
  const pools = {} as Record<ServiceKey, pg.Pool>;

  const stop = async () => {
    for (const service of running.reverse()) await service.stop().catch(() => undefined);
    for (const stopper of stoppers) await stopper().catch(() => undefined);
    await Promise.all(Object.values(pools).map((p) => p.end().catch(() => undefined)));
    await Promise.all(
      Object.values(resources.databases).map((d) => d.drop().catch(() => undefined)),
    );
    await resources.vhost.drop().catch(() => undefined);
  };

  try {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'EdDSA' };

    const apiKey = `fuzz-np-${randomBytes(6).toString('hex')}`;
    const ipnSecret = `fuzz-ipn-${randomBytes(6).toString('hex')}`;
    const nowpayments = createNowPaymentsSandbox({ apiKey, ipnSecret, stepMs: 5 });
    const { url: nowpaymentsUrl } = await nowpayments.start(0);
    stoppers.push(() => nowpayments.stop());
    const devinKey = `fuzz-devin-${randomBytes(6).toString('hex')}`;
    const devin = createDevinSandbox({ apiKey: devinKey, stepMs: 10, retryAfterSeconds: 0 });
    const { url: devinUrl } = await devin.start(0);
    stoppers.push(() => devin.stop());

    const gatewaySecret = `fuzz-gateway-${randomBytes(12).toString('hex')}`;
    const common = { PORT: '0', RABBITMQ_URL: vhost.url, NODE_ENV: 'test', LOG_LEVEL: 'warn' };
    const captured = (key: ServiceKey) => {
      const capture = captureLogger(`${key}-service`);
      logs[key] = capture.entries;
      return capture.logger;
    };

    const user = await startUser({
      logger: captured('user'),
      env: {
        ...common,
        DATABASE_URL: databases.user.url,
        AUTH_SIGNING_KEYS: JSON.stringify({ keys: [privateJwk] }),
        GATEWAY_SHARED_SECRET: gatewaySecret,
        PASSWORD_SCRYPT_LOG_N: '10',
        USAGE_FLUSH_INTERVAL_MS: '200',
        SSE_HEARTBEAT_MS: '200',
        READ_YOUR_WRITES_TIMEOUT_MS: '10000',
      },
    });
    running.push(user);
    const auth = { AUTH_JWKS_URL: `${user.url}/.well-known/jwks.json` };
    const payment = await startPayment({
      logger: captured('payment'),
      env: {
        ...common,
        ...auth,
        DATABASE_URL: databases.payment.url,
        NOWPAYMENTS_API_URL: nowpaymentsUrl,
        NOWPAYMENTS_API_KEY: apiKey,
        NOWPAYMENTS_IPN_SECRET: ipnSecret,
        NOWPAYMENTS_TIMEOUT_MS: '5000',
        RECONCILER_INTERVAL_MS: '0',
        READ_YOUR_WRITES_TIMEOUT_MS: '10000',
      },
    });
    running.push(payment);
    const brain = await startBrain({
      logger: captured('brain'),
      env: {
        ...common,
        ...auth,
        DATABASE_URL: databases.brain.url,
        DEVIN_API_URL: devinUrl,
        DEVIN_API_KEY: devinKey,
        DEVIN_POLL_INTERVAL_MS: '20',
        DEVIN_POLL_MAX_INTERVAL_MS: '80',
        DEVIN_RETRY_MIN_DELAY_MS: '1',
        DEVIN_RETRY_MAX_DELAY_MS: '20',
        DEVIN_REQUEST_TIMEOUT_MS: '3000',
        DEVIN_BUILD_DEADLINE_MS: '30000',
        BUILD_SCAN_INTERVAL_MS: '50',
        READ_YOUR_WRITES_TIMEOUT_MS: '10000',
      },
    });
    running.push(brain);

    for (const key of serviceKeys)
      pools[key] = new pg.Pool({ connectionString: databases[key].url, max: 2 });
    const urls = { user: user.url, payment: payment.url, brain: brain.url };
    await Promise.all(serviceKeys.map((key) => whenReady(urls[key])));

    return {
      urls,
      ipnSecret,
      gatewaySecret,
      async heads() {
        const rows = await Promise.all(
          serviceKeys.map((key) =>
            pools[key].query<{ head: string | null }>(
              'SELECT max(global_position)::text AS head FROM es_events',
            ),
          ),
        );
        return Object.fromEntries(
          serviceKeys.map((key, i) => [key, Number(rows[i]!.rows[0]?.head ?? 0)]),
        ) as Record<ServiceKey, number>;
      },
      async credentialRows() {
        const { rows } = await pools.user.query<{ n: string }>(
          `SELECT (SELECT count(*) FROM credentials) + (SELECT count(*) FROM api_key_credentials) AS n`,
        );
        return Number(rows[0]?.n ?? 0);
      },
      async eventsAfter(service, head) {
        const { rows } = await pools[service].query<{ stream: string; type: string }>(
          'SELECT stream_id AS stream, event_type AS type FROM es_events WHERE global_position > $1 ORDER BY global_position LIMIT 20',
          [head],
        );
        return rows;
      },
      errorOf(service, requestId) {
        const entry = logs[service].find(
          (e) => e.correlationId === requestId && e.message === 'unhandled error',
        );
        if (!entry) return undefined;
        const error = entry.error as { stack?: string; message?: string } | undefined;
        return error?.stack ?? error?.message ?? JSON.stringify(entry);
      },
      async grantAdmin(userId) {
        const deps = {
          store: user.host.eventStore,
          catalog: new EventCatalog<UserEvent>(Object.values(userEvents)),
        };
        const granted = await changeRole(deps, userId, 'admin', 'fuzz-suite', new Date());
        if (!granted.ok) throw new Error(`grant-admin failed: ${granted.error.message}`);
      },
      signIpn: (body) => signIpn(JSON.parse(body), ipnSecret),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function whenReady(url: string, timeoutMs = 30_000): Promise<void> {
  return untilAnswering(`${url}/readyz`, { timeoutMs, intervalMs: 100 });
}

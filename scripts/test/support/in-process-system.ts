import { randomBytes, randomUUID } from 'node:crypto';
import { type ServiceKey } from '@meetmatt/contracts';
import {
  type Database,
  type Logger,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  createLogger,
} from '@meetmatt/infra';
import {
  type CapturedLog,
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
} from '@meetmatt/infra/testing';
import { start as startBrain } from '@meetmatt/brain-service';
import { type DevinSandbox, createDevinSandbox } from '@meetmatt/brain-service/devin/index';
import { start as startPayment } from '@meetmatt/payment-service';
import {
  type NowPaymentsSandbox,
  createNowPaymentsSandbox,
} from '@meetmatt/payment-service/nowpayments/index';
import { start as startUser } from '@meetmatt/user-service';
import { cliEnv } from './cli';

type Running = { url: string; stop(): Promise<void> };

/** One service of the running system, and a way to read its event store from the test. */
export interface SystemService {
  key: ServiceKey;
  url: string;
  databaseUrl: string;
  /** A pool of the test's own on the service's database. */
  database: Database;
  store: PostgresEventStore;
  logs: CapturedLog[];
  /** The events of one stream, as the test reads them. */
  stream(streamId: string): Promise<RecordedEvent[]>;
}

export interface SystemUser {
  userId: string;
  authorization: string;
}

/**
 * The three real services in this process, as `npm start` wires them, against databases and a
 * RabbitMQ vhost of this test file's own: user-service signs the tokens the other two verify,
 * payment-service talks to the NOWPayments sandbox (whose IPNs come back to it), brain-service
 * builds agents in the Devin sandbox. `env` is what the CLI needs to find all of it.
 */
export interface RunningSystem {
  services: Record<ServiceKey, SystemService>;
  nowPayments: NowPaymentsSandbox;
  devin: DevinSandbox;
  vhost: TestVhost;
  env: NodeJS.ProcessEnv;
  register(): Promise<SystemUser>;
  /** POST /payments/create; the agent name carries sandbox markers ([sandbox:manual] …). */
  pay(user: SystemUser, markers?: string[]): Promise<{ id: string; providerPaymentId: string }>;
  get<T = unknown>(
    key: ServiceKey,
    path: string,
    user: SystemUser,
  ): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

const quiet: Logger = createLogger({ service: 'system-test', level: 'silent' });

export async function startSystem(prefix: string): Promise<RunningSystem> {
  const keys: ServiceKey[] = ['payment', 'user', 'brain'];
  const [vhost, ...databases] = await Promise.all([
    createTestVhost(prefix),
    ...keys.map((key) => createTestDatabase(`${prefix}_${key}`)),
  ]);
  const urlOf = (key: ServiceKey) => (databases[keys.indexOf(key)] as TestDatabase).url;
  const nowPaymentsKey = `np-${randomBytes(6).toString('hex')}`;
  const ipnSecret = `ipn-${randomBytes(12).toString('hex')}`;
  const devinKey = `devin-${randomBytes(6).toString('hex')}`;
  const nowPayments = createNowPaymentsSandbox({ apiKey: nowPaymentsKey, ipnSecret, stepMs: 20 });
  const devin = createDevinSandbox({ apiKey: devinKey, stepMs: 20, retryAfterSeconds: 0 });
  const [{ url: nowPaymentsUrl }, { url: devinUrl }] = await Promise.all([
    nowPayments.start(0),
    devin.start(0),
  ]);
  const common = {
    PORT: '0',
    RABBITMQ_URL: vhost.url,
    NODE_ENV: 'test',
    READ_YOUR_WRITES_TIMEOUT_MS: '10000',
  };
  const logs = Object.fromEntries(keys.map((k) => [k, captureLogger(`${k}-service`)])) as Record<
    ServiceKey,
    ReturnType<typeof captureLogger>
  >;
  const running: Partial<Record<ServiceKey, Running>> = {};
  const stopAll = async () => {
    for (const key of ['brain', 'payment', 'user'] as const) await running[key]?.stop();
    await Promise.all([nowPayments.stop(), devin.stop()]);
  };
  try {
    running.user = await startUser({
      logger: logs.user.logger,
      env: {
        ...common,
        DATABASE_URL: urlOf('user'),
        PASSWORD_SCRYPT_LOG_N: '10',
        USAGE_FLUSH_INTERVAL_MS: '200',
      },
    });
    const auth = { AUTH_JWKS_URL: `${running.user.url}/.well-known/jwks.json` };
    const [payment, brain] = await Promise.all([
      startPayment({
        logger: logs.payment.logger,
        env: {
          ...common,
          ...auth,
          DATABASE_URL: urlOf('payment'),
          NOWPAYMENTS_API_URL: nowPaymentsUrl,
          NOWPAYMENTS_API_KEY: nowPaymentsKey,
          NOWPAYMENTS_IPN_SECRET: ipnSecret,
          NOWPAYMENTS_TIMEOUT_MS: '5000',
          RECONCILER_INTERVAL_MS: '0',
        },
      }),
      startBrain({
        logger: logs.brain.logger,
        env: {
          ...common,
          ...auth,
          DATABASE_URL: urlOf('brain'),
          DEVIN_API_URL: devinUrl,
          DEVIN_API_KEY: devinKey,
          DEVIN_POLL_INTERVAL_MS: '10',
          DEVIN_POLL_MAX_INTERVAL_MS: '40',
          DEVIN_RETRY_MIN_DELAY_MS: '1',
          DEVIN_RETRY_MAX_DELAY_MS: '20',
          DEVIN_REQUEST_TIMEOUT_MS: '5000',
          BUILD_SCAN_INTERVAL_MS: '200',
        },
      }),
    ]);
    running.payment = payment;
    running.brain = brain;
  } catch (error) {
    await stopAll();
    await Promise.all([...databases.map((d) => d.drop()), vhost.drop()]);
    throw error;
  }

  const services = {} as Record<ServiceKey, SystemService>;
  for (const key of keys) {
    const databaseUrl = urlOf(key);
    const database = createDatabase({ url: databaseUrl, max: 3 });
    const store = new PostgresEventStore({ pool: database.pool, logger: quiet });
    services[key] = {
      key,
      url: running[key]!.url,
      databaseUrl,
      database,
      store,
      logs: logs[key].entries,
      stream: (streamId) => store.readStream(streamId),
    };
  }

  const call = async <T>(url: string, init: RequestInit = {}, authorization?: string) => {
    const response = await fetch(url, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };

  return {
    services,
    nowPayments,
    devin,
    vhost,
    env: cliEnv({
      PAYMENT_DATABASE_URL: services.payment.databaseUrl,
      USER_DATABASE_URL: services.user.databaseUrl,
      BRAIN_DATABASE_URL: services.brain.databaseUrl,
      RABBITMQ_URL: vhost.url,
      NOWPAYMENTS_API_URL: nowPaymentsUrl,
      NOWPAYMENTS_API_KEY: nowPaymentsKey,
      NOWPAYMENTS_IPN_SECRET: ipnSecret,
    }),
    async register() {
      const res = await call<{ user: { id: string }; accessToken: string }>(
        `${services.user.url}/auth/register`,
        {
          method: 'POST',
          body: JSON.stringify({
            email: `cli.${randomUUID().slice(0, 8)}@example.com`,
            password: `pw-${randomUUID()}`,
            displayName: 'Operator Test',
          }),
        },
      );
      if (res.status !== 201) throw new Error(`register answered ${res.status}`);
      return { userId: res.body.user.id, authorization: `Bearer ${res.body.accessToken}` };
    },
    async pay(user, markers = []) {
      const name = `Agent ${randomUUID().slice(0, 6)} ${markers.map((m) => `[sandbox:${m}]`).join(' ')}`;
      const res = await call<{ id: string; providerPaymentId: string }>(
        `${services.payment.url}/payments/create`,
        {
          method: 'POST',
          body: JSON.stringify({
            plan: 'starter',
            payCurrency: 'btc',
            agent: { name: name.trim(), instructions: 'Answer support questions from our docs' },
          }),
        },
        user.authorization,
      );
      if (res.status !== 201)
        throw new Error(`create payment answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    get: (key, path, user) => call(`${services[key].url}${path}`, {}, user.authorization),
    async stop() {
      await stopAll();
      for (const s of Object.values(services)) await s.database.close();
      await Promise.all([...databases.map((d) => d.drop()), vhost.drop()]);
    },
  };
}

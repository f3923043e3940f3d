import { z } from 'zod';
import { GATEWAY_PORT, type ServiceKey, services } from '@meetmatt/contracts';
import { env, loadConfig, withDatabase } from '@meetmatt/infra';
import { loadPaymentConfig } from '@meetmatt/payment-service/config';
import { loadUserConfig } from '@meetmatt/user-service/config';
import { loadBrainConfig } from '@meetmatt/brain-service/config';
import { parseCorsOrigins } from './gateway';
import { type ServiceAccounts, localServiceAccounts, withAccount } from './service-accounts';

/** Nine keeps instance ports (3001 + 10 × 8 = 3081) below the sandboxes' 3101 and 3102. */
const MAX_REPLICAS = 9;

/** The settings of the whole local system (`npm start`, `npm test`); each service adds its own. */
export const systemConfigSchema = z.object({
  /** The gateway's port: the one URL of the whole system. (`PORT` is a single service's.) */
  GATEWAY_PORT: env.port(GATEWAY_PORT),
  /**
   * How many instances of each service `npm start` runs behind the gateway's upstreams.
   * Instance i (from 0) of a service listens on its port + i × REPLICA_PORT_STEP.
   */
  REPLICAS: z.coerce
    .number({ message: 'expected a number' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .max(MAX_REPLICAS, `expected at most ${MAX_REPLICAS}`)
    .default(1),
  PAYMENT_SERVICE_PORT: env.port(services.payment.port),
  USER_SERVICE_PORT: env.port(services.user.port),
  BRAIN_SERVICE_PORT: env.port(services.brain.port),
  POSTGRES_URL: env.url('postgres://postgres@127.0.0.1:5432/postgres'),
  RABBITMQ_URL: env.url('amqp://guest:guest@127.0.0.1:5672'),
  PAYMENT_DATABASE_URL: env.optionalUrl(),
  USER_DATABASE_URL: env.optionalUrl(),
  BRAIN_DATABASE_URL: env.optionalUrl(),
  /**
   * own: each service connects as its own PostgreSQL role and RabbitMQ user, which `npm start`
   * creates (prepare.ts). shared: every service uses the URLs above as they are (a broker that
   * can be administered neither with a local rabbitmqctl nor RABBITMQ_MANAGEMENT_URL).
   */
  SERVICE_ACCOUNTS: z.enum(['own', 'shared'], { message: 'expected own or shared' }).default('own'),
  /** The broker's management API, to create the services' users where rabbitmqctl cannot. */
  RABBITMQ_MANAGEMENT_URL: env.optionalUrl(),
  /** Where the local sandboxes listen when no real provider key is set. */
  NOWPAYMENTS_SANDBOX_PORT: env.port(3101),
  DEVIN_SANDBOX_PORT: env.port(3102),
  /**
   * The local SMTP server (when no SMTP_URL is set): the services send to MAIL_SMTP_PORT, what it
   * received is kept under .run/mail/<port>/ and read at MAIL_HTTP_PORT (GET /messages).
   */
  MAIL_SMTP_PORT: env.port(2525),
  MAIL_HTTP_PORT: env.port(3103),
  /** How long one sandbox scenario step takes: a demo wants seconds, tests milliseconds. */
  NOWPAYMENTS_SANDBOX_STEP_MS: env.int(1_000, 1),
  DEVIN_SANDBOX_STEP_MS: env.int(1_000, 0),
  /** The gateway's per-client rate limit, e.g. 20r/s (nginx syntax). */
  GATEWAY_USER_RATE: z
    .string()
    .regex(/^\d+r\/[sm]$/, 'expected a rate such as 20r/s')
    .default('20r/s'),
  /** Every authenticated request from one client address, whatever credential it carries. */
  GATEWAY_ADDRESS_RATE: z
    .string()
    .regex(/^\d+r\/[sm]$/, 'expected a rate such as 30r/s')
    .default('30r/s'),
  GATEWAY_AUTH_RATE: z
    .string()
    .regex(/^\d+r\/[sm]$/, 'expected a rate such as 10r/s')
    .default('10r/s'),
  /** NOWPayments' IPNs per second from one address (a burst of 100 more is let through). */
  GATEWAY_WEBHOOK_RATE: z
    .string()
    .regex(/^\d+r\/[sm]$/, 'expected a rate such as 50r/s')
    .default('50r/s'),
  /** What the gateway shows /auth/verify (X-Gateway-Secret); unset, one is made for each run. */
  GATEWAY_SHARED_SECRET: z.string().trim().min(16, 'expected at least 16 characters').optional(),
  /**
   * Browser origins the gateway allows (CORS), comma or space separated; `none` allows none
   * (an empty value means unset, as everywhere). npm start is development: the web app's Vite
   * dev server by default.
   */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('http://localhost:5173,http://127.0.0.1:5173')
    .transform((text, ctx): string[] => {
      if (text.trim() === 'none') return [];
      try {
        return parseCorsOrigins(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** TLS for the gateway (deployments): both or neither. */
  GATEWAY_TLS_PORT: env.port(8443),
  GATEWAY_TLS_CERT_FILE: z.string().optional(),
  GATEWAY_TLS_KEY_FILE: z.string().optional(),
});

export type SystemConfig = z.infer<typeof systemConfigSchema>;

/** Ports of one service's instances are this far apart: 3001, 3011, 3021... */
export const REPLICA_PORT_STEP = 10;

export const serviceKeys: ServiceKey[] = ['user', 'payment', 'brain'];

const portVariable = {
  payment: 'PAYMENT_SERVICE_PORT',
  user: 'USER_SERVICE_PORT',
  brain: 'BRAIN_SERVICE_PORT',
} as const;

const databaseVariable = {
  payment: 'PAYMENT_DATABASE_URL',
  user: 'USER_DATABASE_URL',
  brain: 'BRAIN_DATABASE_URL',
} as const;

export function loadSystemConfig(
  source: Record<string, string | undefined> = process.env,
): SystemConfig {
  return loadConfig(systemConfigSchema, source);
}

export function serviceDatabaseUrl(system: SystemConfig, key: ServiceKey): string {
  return system[databaseVariable[key]] ?? withDatabase(system.POSTGRES_URL, `meetmatt_${key}`);
}

/** The port of one instance (from 0) of a service. */
export function servicePort(system: SystemConfig, key: ServiceKey, instance = 0): number {
  return system[portVariable[key]] + instance * REPLICA_PORT_STEP;
}

/** The process name of one instance: the service's name alone when it runs once. */
export function instanceName(system: SystemConfig, key: ServiceKey, instance = 0): string {
  const name = services[key].name;
  return system.REPLICAS === 1 ? name : `${name}-${instance + 1}`;
}

/** The services' own accounts (SERVICE_ACCOUNTS=own), as prepare.ts creates them. */
export function serviceAccountsFor(system: SystemConfig): ServiceAccounts | undefined {
  return system.SERVICE_ACCOUNTS === 'own' ? localServiceAccounts() : undefined;
}

/**
 * The environment a service process runs with: everything set, plus its own port and database,
 * and, given `accounts`, its own database role and broker user in the URLs.
 */
export function serviceEnv(
  system: SystemConfig,
  key: ServiceKey,
  source = process.env,
  accounts?: ServiceAccounts,
  instance = 0,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) if (value !== undefined) out[name] = value;
  out.PORT = String(servicePort(system, key, instance));
  out.DATABASE_URL = serviceDatabaseUrl(system, key);
  out.RABBITMQ_URL = system.RABBITMQ_URL;
  if (accounts) {
    const { postgres, rabbitmq } = accounts[key];
    out.DATABASE_URL = withAccount(out.DATABASE_URL, postgres.role, postgres.password);
    out.RABBITMQ_URL = withAccount(out.RABBITMQ_URL, rabbitmq.user, rabbitmq.password);
  }
  return out;
}

const loaders = {
  payment: loadPaymentConfig,
  user: loadUserConfig,
  brain: loadBrainConfig,
} as const;

/** Validates every service's configuration up front, so a bad variable fails before anything starts. */
export function validateServiceConfigs(system: SystemConfig, source = process.env): void {
  for (const key of serviceKeys) loaders[key](serviceEnv(system, key, source));
}

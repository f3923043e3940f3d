import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type ServiceKey, services } from '@meetmatt/contracts';
import { type GatewayOptions, startGateway } from './gateway';
import { ensureNginx } from './nginx';
import { type ManagedProcess, repoRoot, startTsProcess, waitUntilReady } from './processes';
import {
  type SystemConfig,
  instanceName,
  serviceAccountsFor,
  serviceEnv,
  serviceKeys,
  servicePort,
} from './system-config';

/** Local defaults of the sandboxes; the services are given the same ones. */
const SANDBOX = {
  nowpayments: { apiKey: 'sandbox-api-key', ipnSecret: 'sandbox-ipn-secret' },
  devin: { apiKey: 'sandbox-devin-key' },
};

export interface RunningSystem {
  processes: ManagedProcess[];
  gatewayUrl: string;
  /** The first instance of each service. */
  serviceUrls: Record<ServiceKey, string>;
  /** Every instance of each service (REPLICAS of them), in the order they started. */
  instances: Record<ServiceKey, { name: string; url: string; process: ManagedProcess }[]>;
  sandboxes: { nowpayments?: string; devin?: string };
  /** The local SMTP server, when no SMTP_URL is set: where it listens and where to read its mail. */
  mail?: { smtpUrl: string; httpUrl: string; dir: string };
}

function stringEnv(source: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined) out[k] = v;
  return out;
}

/** How `launchSystem` starts what it runs; the fault suite's supervisor passes its own. */
export interface LaunchHooks {
  /** Starts a TypeScript process (a sandbox or a service); a supervisor records how, to restart it. */
  startTs?: typeof startTsProcess;
  /** Whether the gateway's access log is echoed (`npm start` does; the fault suite does not). */
  echoAccessLog?: boolean;
}

/**
 * Starts everything `npm start` runs: the provider sandboxes (when no real key is set), the
 * three services and the nginx gateway; resolves once each answers its readiness probe.
 * Every started process is in `processes` as soon as it starts, so a caller can stop them all
 * even when a later one fails.
 */
export async function launchSystem(
  system: SystemConfig,
  log: (line: string) => void,
  processes: ManagedProcess[],
  source: NodeJS.ProcessEnv = process.env,
  hooks: LaunchHooks = {},
): Promise<RunningSystem> {
  const startTs = hooks.startTs ?? startTsProcess;
  const nginx = ensureNginx(log);
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const gatewayUrl = local(system.GATEWAY_PORT);
  const upstream = (key: ServiceKey) =>
    Array.from(
      { length: system.REPLICAS },
      (_, instance) => `127.0.0.1:${servicePort(system, key, instance)}`,
    );
  const base = stringEnv(source);
  const waits: Promise<void>[] = [];
  const sandboxes: RunningSystem['sandboxes'] = {};
  let index = 0;

  const extra: Record<string, Record<string, string>> = { user: {}, payment: {}, brain: {} };
  // With one user-service, its own address; with several, the gateway's, which reaches any of
  // them (the keys live in user-service's database, so every instance publishes the same set).
  const jwks = `${system.REPLICAS === 1 ? local(servicePort(system, 'user')) : gatewayUrl}/.well-known/jwks.json`;
  extra.payment = {
    AUTH_JWKS_URL: jwks,
    NOWPAYMENTS_IPN_CALLBACK_URL: `${gatewayUrl}/webhooks/nowpayments`,
  };
  extra.brain = { AUTH_JWKS_URL: jwks };
  // Only the gateway may swap a credential for a token at /auth/verify: it proves itself with a
  // secret it shares with user-service alone.
  const gatewaySecret = system.GATEWAY_SHARED_SECRET ?? randomBytes(32).toString('base64url');
  extra.user = { GATEWAY_SHARED_SECRET: gatewaySecret };

  if (!source.NOWPAYMENTS_API_KEY) {
    const url = local(system.NOWPAYMENTS_SANDBOX_PORT);
    const sandboxEnv = {
      ...base,
      NOWPAYMENTS_SANDBOX_PORT: String(system.NOWPAYMENTS_SANDBOX_PORT),
      NOWPAYMENTS_API_KEY: SANDBOX.nowpayments.apiKey,
      NOWPAYMENTS_IPN_SECRET: SANDBOX.nowpayments.ipnSecret,
      NOWPAYMENTS_SANDBOX_STEP_MS: String(system.NOWPAYMENTS_SANDBOX_STEP_MS),
    };
    const sandbox = startTs(
      'nowpayments-sbx',
      'payment-service/src/nowpayments/sandbox-main.ts',
      sandboxEnv,
      index++,
    );
    processes.push(sandbox);
    waits.push(waitUntilReady(`${url}/healthz`, sandbox, 60_000));
    sandboxes.nowpayments = url;
    Object.assign(extra.payment, {
      NOWPAYMENTS_API_URL: url,
      NOWPAYMENTS_API_KEY: SANDBOX.nowpayments.apiKey,
      NOWPAYMENTS_IPN_SECRET: SANDBOX.nowpayments.ipnSecret,
    });
  }
  if (!source.DEVIN_API_KEY) {
    const url = local(system.DEVIN_SANDBOX_PORT);
    const sandboxEnv = {
      ...base,
      DEVIN_SANDBOX_PORT: String(system.DEVIN_SANDBOX_PORT),
      DEVIN_API_KEY: SANDBOX.devin.apiKey,
      DEVIN_SANDBOX_STEP_MS: String(system.DEVIN_SANDBOX_STEP_MS),
    };
    const sandbox = startTs(
      'devin-sbx',
      'brain-service/src/devin/sandbox-main.ts',
      sandboxEnv,
      index++,
    );
    processes.push(sandbox);
    waits.push(waitUntilReady(`${url}/healthz`, sandbox, 60_000));
    sandboxes.devin = url;
    Object.assign(extra.brain, {
      DEVIN_API_URL: url,
      DEVIN_API_KEY: SANDBOX.devin.apiKey,
      // The sandbox moves a session on every step: poll it at that pace, not Devin's 15 s.
      ...(source.DEVIN_POLL_INTERVAL_MS
        ? {}
        : { DEVIN_POLL_INTERVAL_MS: String(Math.max(500, system.DEVIN_SANDBOX_STEP_MS)) }),
    });
  }

  let mail: RunningSystem['mail'];
  if (!source.SMTP_URL) {
    const smtpUrl = `smtp://127.0.0.1:${system.MAIL_SMTP_PORT}`;
    const catcher = startTs(
      'mail',
      'scripts/src/lib/smtp-server.ts',
      {
        ...base,
        MAIL_SMTP_PORT: String(system.MAIL_SMTP_PORT),
        MAIL_HTTP_PORT: String(system.MAIL_HTTP_PORT),
      },
      index++,
    );
    processes.push(catcher);
    waits.push(waitUntilReady(`${local(system.MAIL_HTTP_PORT)}/healthz`, catcher, 60_000));
    mail = {
      smtpUrl,
      httpUrl: `${local(system.MAIL_HTTP_PORT)}/messages`,
      dir: path.join(repoRoot, '.run', 'mail', String(system.MAIL_SMTP_PORT)),
    };
    // The services that send mail send it there.
    Object.assign(extra.user, { SMTP_URL: smtpUrl });
    Object.assign(extra.payment, { SMTP_URL: smtpUrl });
  }

  const serviceUrls = {} as RunningSystem['serviceUrls'];
  const instances = { user: [], payment: [], brain: [] } as RunningSystem['instances'];
  // Each service as its own database role and broker user (prepare.ts made them).
  const accounts = serviceAccountsFor(system);
  const startInstance = (key: ServiceKey, instance: number): Promise<void> => {
    const name = services[key].name;
    const child = startTs(
      instanceName(system, key, instance),
      `${name}/src/main.ts`,
      { ...serviceEnv(system, key, source, accounts, instance), ...extra[key] },
      index++,
    );
    processes.push(child);
    const url = local(servicePort(system, key, instance));
    instances[key].push({ name: child.name, url, process: child });
    return waitUntilReady(`${url}/readyz`, child, 60_000);
  };
  for (const key of serviceKeys) {
    serviceUrls[key] = local(servicePort(system, key));
    // The first instance alone migrates, declares the queues and takes every leader lock; the
    // others start once it is ready, as followers (scaling out the way a Deployment does).
    waits.push(
      startInstance(key, 0).then(() =>
        Promise.all(
          Array.from({ length: system.REPLICAS - 1 }, (_, i) => startInstance(key, i + 1)),
        ).then(() => undefined),
      ),
    );
  }

  const gatewayOptions: GatewayOptions = {
    listen: `127.0.0.1:${system.GATEWAY_PORT}`,
    runDir: path.join(repoRoot, '.run', `gateway-${system.GATEWAY_PORT}`),
    // Every instance of a service is a server of its upstream: nginx spreads requests round
    // robin and passes one refused or reset to the next (proxy_next_upstream).
    upstreams: {
      user: upstream('user'),
      payment: upstream('payment'),
      brain: upstream('brain'),
    },
    sharedSecret: gatewaySecret,
    corsOrigins: system.CORS_ALLOWED_ORIGINS,
    userRate: system.GATEWAY_USER_RATE,
    addressRate: system.GATEWAY_ADDRESS_RATE,
    authRate: system.GATEWAY_AUTH_RATE,
    webhookRate: system.GATEWAY_WEBHOOK_RATE,
    ...(system.GATEWAY_TLS_CERT_FILE && system.GATEWAY_TLS_KEY_FILE
      ? {
          tls: {
            listen: `127.0.0.1:${system.GATEWAY_TLS_PORT}`,
            certFile: system.GATEWAY_TLS_CERT_FILE,
            keyFile: system.GATEWAY_TLS_KEY_FILE,
          },
        }
      : {}),
  };
  const gateway = startGateway(nginx, gatewayOptions, index++, hooks.echoAccessLog ?? true);
  processes.push(gateway);
  waits.push(waitUntilReady(`${gatewayUrl}/healthz`, gateway, 30_000));

  await Promise.all(waits);
  return { processes, gatewayUrl, serviceUrls, instances, sandboxes, ...(mail ? { mail } : {}) };
}
